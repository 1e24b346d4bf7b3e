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

from embedstack.similarity import Metric, topk, topk_rows
from embedstack.store.flat import FlatVectors, block_scores, stacked_scores
from embedstack.store.vecindex import VectorSettings

SELECTIVE = 0.05  # filters passing fewer than this share of rows are scanned exactly


class CandidateIndex(Protocol):
    """What search_many needs from a vector index."""

    rescore: str
    settings: VectorSettings

    def candidates_many(
        self, queries: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, up to `count` (rows, approximate scores), only rows in `allowed`."""

    def rescore_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scores of `rows` from the index's own rescoring codes (int8)."""


def exact_search(
    flat: FlatVectors, metric: str, query: np.ndarray, k: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: float32 scores of every row (rows None) or of `rows`."""
    values = flat.scores(query, metric, rows)
    best, top = topk(values, k)
    return (best if rows is None else rows[best]), top


def _scan_exactly(index: CandidateIndex, allowed: int) -> bool:
    """A small collection or a selective filter: the exact scan of the allowed rows is
    as fast as the graph, and exact."""
    graph_size = len(index) if hasattr(index, "__len__") else None  # type: ignore[arg-type]
    if graph_size is None:
        return False
    return allowed < getattr(index, "exact_below", 0) or allowed < SELECTIVE * max(graph_size, 1)


def search_many(
    index: CandidateIndex,
    flat: FlatVectors,
    metric: str,
    queries: np.ndarray,
    *,
    k: int,
    rows: np.ndarray | None,
    live: int,
    filtered: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Top-k (row ids, scores) of each query (one row of `queries` each). `rows` are the
    sorted allowed rows (None: all rows are live and allowed); `live` is the number of
    live rows; scores use `metric` when rescored with float32, so they equal the exact
    search's scores. The index answers all queries in one call (one batched graph walk).
    `filtered` False says `rows` are just the live rows: the index left deleted rows out
    when they were deleted, so only the exact-scan fallback needs them."""
    allowed = live if rows is None else len(rows)
    if allowed == 0:
        return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
    if _scan_exactly(index, allowed):
        return [exact_search(flat, metric, query, k, rows) for query in queries]
    count = index.settings.candidate_count(k)
    found = index.candidates_many(queries, count, rows if filtered else None)
    # float32 rescoring reads every query's candidates in one gather (one pass over the
    # segments for a batch) rather than one per query.
    full = None
    if index.rescore == "float32":
        full = flat.take(
            np.concatenate([cand for cand, _ in found]) if len(found) > 1 else found[0][0]
        )
        # a batch: rescored together; one query: the loop below takes fewer numpy calls
        widths = {len(cand) for cand, _ in found}
        if len(found) > 1 and len(widths) == 1 and min(widths) >= min(k, allowed):
            blocks = full.reshape(len(found), min(widths), -1)
            return _rescored_together(blocks, queries, [cand for cand, _ in found], k, metric)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    at, rescoring = 0, Metric(metric)
    for query, (cand, approximate) in zip(queries, found, strict=True):
        start, at = at, at + len(cand)
        if len(cand) < min(k, allowed):  # the graph ran dry: the exact scan never does
            out.append(exact_search(flat, metric, query, k, rows))
            continue
        if index.rescore == "none" and len(cand) == k:  # the graph's order, best first
            out.append((cand, np.asarray(approximate, dtype=np.float32)))
            continue
        values = approximate
        if full is not None:
            values = block_scores(full[start:at], query, rescoring)
        elif index.rescore == "int8":
            values = index.rescore_scores(query, cand)
        best, top = topk(np.asarray(values, dtype=np.float32), k)
        out.append((cand[best], top))
    return out


def _rescored_together(
    blocks: np.ndarray, queries: np.ndarray, candidates: list[np.ndarray], k: int, metric: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Top-k of every query by float32 scores of its own candidates (as many for each:
    the unfiltered case), in one product and one sort for the whole batch. The graph
    walk just evicted the CPU caches, so each numpy call saved here counts."""
    values = stacked_scores(blocks, queries, Metric(metric)).astype(np.float32, copy=False)
    order, top = topk_rows(values, k)
    rows = np.take_along_axis(np.stack(candidates), order, axis=1)
    return list(zip(rows, top, strict=True))


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
    """Top-k (row ids, scores) of one query (see `search_many`)."""
    return search_many(index, flat, metric, query[None, :], k=k, rows=rows, live=live)[0]
