"""Row selection shared by the sparse indexes (BM25, SPLADE): the `where` mask and a
top-k over positive scores with ties broken by smaller row id."""

from __future__ import annotations

import numpy as np

from embedstack.similarity import topk


def allowed_mask(allowed: np.ndarray, size: int) -> np.ndarray:
    """A row mask from allowed row ids or a boolean mask (the collection's `where`)."""
    allowed = np.asarray(allowed)
    if allowed.dtype == bool:
        mask = np.zeros(size, dtype=bool)
        mask[: min(size, len(allowed))] = allowed[:size]
        return mask
    mask = np.zeros(size, dtype=bool)
    allowed = allowed.astype(np.int64)
    mask[allowed[(allowed >= 0) & (allowed < size)]] = True
    return mask


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows with a positive score, best first, ties broken by smaller row id
    (the one `similarity.topk`, so every retriever breaks ties the same way)."""
    rows, picked = topk(scores, k)
    keep = picked > 0
    return rows[keep], picked[keep].astype(np.float32)
