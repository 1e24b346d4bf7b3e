"""Packing texts into requests within a provider's limits, and refusing what cannot fit.

Texts over the model's input limit are refused with their indices (or cut when the user
asked for truncation); the rest are packed greedily in input order until a request holds
the most inputs or tokens the provider accepts.
"""

from __future__ import annotations

import logging

from embedstack.encoders.hosted.tokens import TokenCounter
from embedstack.errors import InputError, TruncationError

log = logging.getLogger(__name__)


def show(indices: list[int], limit: int = 10) -> str:
    """Indices for a message, the first `limit` of them."""
    shown = ", ".join(map(str, indices[:limit]))
    return shown + (" ..." if len(indices) > limit else "")


def plan_batches(
    texts: list[str],
    *,
    label: str,
    counter: TokenCounter,
    max_tokens: int | None,
    truncate: bool,
    per_request: int,
    tokens_per_request: int | None,
) -> tuple[list[str], list[list[int]], list[int]]:
    """(texts, possibly truncated; batches of input indices; tokens per text)."""
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise InputError(
            f"{label} cannot embed empty texts (indices {show(empty)}); "
            "drop them or replace them with some text"
        )
    tokens = counter.count(texts)
    over = [i for i, n in enumerate(tokens) if max_tokens and n > max_tokens]
    if over and max_tokens:
        if not truncate:
            how = "" if counter.exact else "estimated "
            detail = ", ".join(f"#{i} ({how}{tokens[i]} tokens)" for i in over[:10])
            raise TruncationError(
                f"{len(over)} text(s) exceed the {max_tokens}-token input limit of {label}: "
                f"{detail}{' ...' if len(over) > 10 else ''}. Split them into chunks first, "
                "or pass truncate=True to cut them."
            )
        texts = list(texts)
        for i in over:
            texts[i] = counter.truncate(texts[i], max_tokens)
        tokens = counter.count(texts)
        log.info("truncated %d text(s) to %d tokens", len(over), max_tokens)
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, n in enumerate(tokens):
        full = len(current) >= per_request
        if current and (full or (tokens_per_request and used + n > tokens_per_request)):
            batches.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        batches.append(current)
    return texts, batches, tokens
