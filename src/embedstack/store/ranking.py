"""Row selection shared by the sparse indexes (BM25, SPLADE): the `where` mask and a
top-k over positive scores with ties broken by smaller row id."""

from __future__ import annotations

import numpy as np


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
    """The k best rows with a positive score, best first, ties broken by smaller row id."""
    if k < len(scores):
        # Selecting the k smallest of -scores is several times faster than the k largest
        # of scores when most scores are tied at zero (numpy's introselect).
        part = np.argpartition(-scores, k - 1)[:k]
        cutoff = scores[part].min()
        if cutoff > 0:
            rows = part
            if np.count_nonzero(scores == cutoff) > np.count_nonzero(scores[part] == cutoff):
                # Rows tied with the k-th score but left out must not lose to larger row ids.
                rows = np.union1d(part[scores[part] > cutoff], np.flatnonzero(scores == cutoff))
        else:
            rows = part[scores[part] > 0]
    else:
        rows = np.flatnonzero(scores > 0)
    picked = scores[rows]
    order = np.lexsort((rows, -picked))[:k]
    return rows[order], picked[order].astype(np.float32)
