"""Reading provider answers: the human message of an error body, and the checks every
successful body passes before its vectors are used or cached (count, dimension, NaN)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np

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
    return array
