"""Dense search through a vector index: candidates, then rescoring, never fewer than k.

The float32 scan over the memory-mapped segments is the reference (`exact=True`). An
index proposes candidates (a graph walk or a scan of compressed codes); rescoring ranks
them again with full-precision vectors. A filter never turns top-k into "top-k, then
drop what fails the filter": a selective filter (or a small collection) scans exactly
the matching rows, a broad one asks the graph for enough candidates, and if the graph
still yields fewer than k matching rows the search falls back to the exact scan.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from embedstack.similarity import Metric, topk
from embedstack.store.flat import FlatVectors, block_scores
from embedstack.store.vecindex import VectorSettings

SELECTIVE = 0.05  # filters passing fewer than this share of rows are scanned exactly


class CandidateIndex(Protocol):
    """What search_vectors needs from a vector index."""

    rescore: str
    settings: VectorSettings

    def candidates(
        self, query: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` (rows, approximate scores), only rows in `allowed` if given."""

    def rescore_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scores of `rows` from the index's own rescoring codes (int8)."""


def exact_search(
    flat: FlatVectors, metric: str, query: np.ndarray, k: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: float32 scores of every row (rows None) or of `rows`."""
    values = flat.scores(query, metric, rows)
    best, top = topk(values, k)
    return (best if rows is None else rows[best]), top


def search_vectors(
    index: CandidateIndex,
    flat: FlatVectors,
    metric: str,
    query: np.ndarray,
    *,
    k: int,
    rows: np.ndarray | None,
    live: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (row ids, scores). `rows` are the sorted allowed rows (None: all rows are
    live and allowed); `live` is the number of live rows; scores use `metric` when
    rescored with float32, so they equal the exact search's scores."""
    allowed = live if rows is None else len(rows)
    if allowed == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    graph_size = len(index) if hasattr(index, "__len__") else None  # type: ignore[arg-type]
    if graph_size is not None and (
        allowed < getattr(index, "exact_below", 0) or allowed < SELECTIVE * max(graph_size, 1)
    ):
        return exact_search(flat, metric, query, k, rows)
    count = k if index.rescore == "none" else max(index.settings.candidates, 4 * k)
    cand, values = index.candidates(query, count, rows)
    if len(cand) < min(k, allowed):
        return exact_search(flat, metric, query, k, rows)
    if index.rescore == "float32":
        values = block_scores(flat.take(cand), query, Metric(metric))
    elif index.rescore == "int8":
        values = index.rescore_scores(query, cand)
    best, top = topk(np.asarray(values, dtype=np.float32), k)
    return cand[best], top
