"""Reading provider answers: the human message of an error body, what an HTTP status
means (retry, bad key, refused), and the checks every successful body passes before its
vectors are used or cached (count, dimension, NaN, all-zero)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np

from embedstack.encoders.hosted.limits import is_retryable, parse_retry_after
from embedstack.encoders.hosted.retry import Retry
from embedstack.errors import ProviderError


def error_message(response: httpx.Response) -> str:
    """The human part of an error body, whatever the provider's error shape
    (`{"error": {"message"}}`, `{"error": "..."}`, `{"message"}`, `{"detail"}`, text)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        for value in (error, body.get("message"), body.get("detail")):
            if value:
                return str(value)[:300]
    return json.dumps(body)[:300]


def read_json(response: httpx.Response, provider: str) -> Any:
    """The JSON body, or a ProviderError saying it was malformed."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(
            f"{provider} answered HTTP {response.status_code} with malformed JSON "
            f"({response.text[:120]!r}); nothing was stored"
        ) from None


def checked_vectors(vectors: Any, n: int, dim: int | None, provider: str) -> np.ndarray:
    """(n, dim) float32 or a ProviderError saying what was wrong; never a partial result."""
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ProviderError(
            f"{provider} answered vectors of uneven length or type ({exc}); nothing was stored"
        ) from None
    if array.ndim != 2 or array.shape[0] != n:
        got = array.shape[0] if array.ndim else 0
        raise ProviderError(
            f"{provider} returned {got} embeddings for {n} inputs; nothing was stored"
        )
    if dim is not None and array.shape[1] != dim:
        raise ProviderError(
            f"{provider} returned {array.shape[1]}-d vectors, expected {dim}; nothing was "
            "stored. Check the model name and dimensions option."
        )
    if not np.isfinite(array).all():
        raise ProviderError(f"{provider} returned NaN or infinite values; nothing was stored")
    zero = np.flatnonzero(~array.any(axis=1))
    if zero.size:
        raise ProviderError(
            f"{provider} returned an all-zero vector for input(s) "
            f"{', '.join(map(str, zero[:10].tolist()))} of this request (a broken answer: it "
            "matches nothing); nothing was stored"
        )
    return array


Parser = Callable[[Any], tuple[Sequence[Any], "int | None"]]


def interpret(
    response: httpx.Response,
    *,
    provider: str,
    n: int,
    dim: int | None,
    parse: Parser,
    redact: Callable[[str], str],
    key_env: tuple[str, ...],
) -> tuple[np.ndarray, int | None] | Retry:
    """(checked vectors, tokens billed or None) from a 2xx answer; `Retry` for a status
    worth retrying; a ProviderError (bad key, refused request, bad body) otherwise."""
    status = response.status_code
    if status >= 300:
        message = redact(error_message(response))
        if is_retryable(status):
            return Retry(f"HTTP {status}: {message}", parse_retry_after(response.headers))
        if status in (401, 403):
            where = f"the environment variable {' or '.join(key_env)}" if key_env else "api_key"
            raise ProviderError(
                f"{provider} refused the credentials (HTTP {status}): {message}. "
                f"Check the key in {where}."
            )
        raise ProviderError(f"{provider} rejected the request (HTTP {status}): {message}")
    payload = read_json(response, provider)
    try:
        vectors, billed = parse(payload)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProviderError(
            f"{provider} answered in an unexpected shape ({type(exc).__name__}: "
            f"{exc}); nothing was stored"
        ) from None
    return checked_vectors(vectors, n, dim, provider), billed
