"""Pure similarity and top-k functions: easy to test, benchmark and reuse."""

from __future__ import annotations

from enum import Enum

import numpy as np

from embedstack.errors import InputError


class Metric(str, Enum):
    """How vectors are compared; scores are always larger-is-better."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"


def _as_2d(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    return arr[None, :] if arr.ndim == 1 else arr


def _check_dims(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise InputError(f"dimension mismatch: {a.shape[1]} vs {b.shape[1]}")


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, d) x (m, d) -> (n, m) inner products."""
    a, b = _as_2d(a), _as_2d(b)
    _check_dims(a, b)
    return a @ b.T


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) cosine similarities; zero vectors have similarity 0 with everything."""
    a, b = _as_2d(a), _as_2d(b)
    _check_dims(a, b)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    na[na == 0] = 1.0
    nb[nb == 0] = 1.0
    return (a / na) @ (b / nb).T


def euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) Euclidean distances (smaller is closer)."""
    a, b = _as_2d(a), _as_2d(b)
    _check_dims(a, b)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


def scores(
    queries: np.ndarray, docs: np.ndarray, metric: Metric | str = Metric.COSINE
) -> np.ndarray:
    """Similarity where larger is better: euclidean is returned negated."""
    metric = Metric(metric)
    if metric is Metric.COSINE:
        return cosine(queries, docs)
    if metric is Metric.DOT:
        return dot(queries, docs)
    return -euclidean(queries, docs)


SMALL_TOPK = 256  # arrays up to this size take one stable sort


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`topk` of each row of a 2-d array at once (a batch's rescored candidates, a few
    dozen per row): indices and scores, ranked by `topk`'s small-array rule, one stable
    sort of the negated scores (ties keep index order, NaN last)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def topk(row_scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k largest values of a 1-d array, best first.

    Ties go to the lower index, so the answer for k is always a prefix of the answer for
    any larger k. `np.argpartition` (O(n)) finds the k-th value; every index above it and
    the lowest-index ones equal to it are kept, then only those winners are sorted. NaN
    ranks below every number.
    """
    if k <= 0:
        raise InputError(f"k must be positive, got {k}")
    row_scores = np.asarray(row_scores)
    if row_scores.ndim != 1:
        raise InputError(f"topk needs a 1-d array of scores, got shape {row_scores.shape}")
    n = row_scores.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=row_scores.dtype)
    k = min(k, n)
    if n <= SMALL_TOPK and row_scores.dtype.kind == "f":
        # A few dozen rescored candidates: one stable sort (NaN sorts last, ties keep
        # index order) beats argpartition + lexsort by ~10 us, per query.
        idx = np.argsort(-row_scores, kind="stable")[:k]
        return idx, row_scores[idx]
    if k < n:
        kth = row_scores[np.argpartition(-row_scores, k - 1)[:k]].min()
        if np.isnan(kth):  # fewer than k numbers: all of them, then the NaNs by index
            above, tied = np.flatnonzero(~np.isnan(row_scores)), np.isnan(row_scores)
        else:
            above, tied = np.flatnonzero(row_scores > kth), row_scores == kth
        idx = np.concatenate([above, np.flatnonzero(tied)[: k - len(above)]])
    else:
        idx = np.arange(n)
    keys = -row_scores[idx]
    if keys.dtype.kind == "f":
        keys = np.where(np.isnan(keys), np.inf, keys)
    idx = idx[np.lexsort((idx, keys))]
    return idx, row_scores[idx]


def maxsim(query: np.ndarray, doc: np.ndarray) -> float:
    """Late-interaction score: per query token the best dot product with a doc token, summed."""
    query, doc = np.asarray(query, np.float32), np.asarray(doc, np.float32)
    if query.ndim != 2 or doc.ndim != 2 or query.shape[1] != doc.shape[1]:
        raise InputError(
            f"maxsim needs (q, d) and (t, d) token matrices, got {query.shape} and {doc.shape}"
        )
    if doc.shape[0] == 0 or query.shape[0] == 0:
        return 0.0
    return float((query @ doc.T).max(axis=1).sum())


def maxsim_many(query: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    """MaxSim of one query against many documents in one matrix product."""
    if not docs:
        return np.zeros(0, dtype=np.float32)
    lengths = np.array([d.shape[0] for d in docs])
    return segment_maxsim(np.asarray(query, np.float32), np.concatenate(docs), lengths)


def segment_maxsim(query: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """MaxSim of `query` against documents stored back to back in `tokens` (`lengths` each);
    a document without tokens scores 0."""
    out = np.zeros(len(lengths), dtype=np.float32)
    nonempty = lengths > 0
    if nonempty.any():
        sims = tokens @ query.T  # (T, q)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
        out[nonempty] = np.maximum.reduceat(sims, starts, axis=0).sum(axis=1)
    return out
