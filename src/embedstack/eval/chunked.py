"""`eval --chunk-tokens`: dense retrieval with documents chunked at several sizes, so
the effect of chunk size on the user's own data shows before they index with it.

A document scores as its best chunk (`embedstack.search.chunks.best_chunk_scores`), and
the ranking is scored with the same metrics as a plain `eval`. Query and chunk vectors
go through the encoder's vector cache (`EvalOptions.encoder`), so a re-run embeds
nothing. Each size holds one (queries x chunks) score matrix in memory: sized for
evaluation sets, not millions of queries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.eval.datasets import RetrievalDataset
from embedstack.eval.metrics import evaluate, parse_metric
from embedstack.eval.options import EvalOptions, cache_counts
from embedstack.eval.runner import DEFAULT_METRICS
from embedstack.search.chunks import best_chunk_scores
from embedstack.similarity import topk
from embedstack.text.chunking import content_limit
from embedstack.types import Kind


@dataclass
class ChunkSizeRow:
    """Quality and cost of one chunk size."""

    max_tokens: int
    metrics: dict[str, float]
    chunks: int
    seconds: float
    embedded: int
    from_cache: int

    def to_dict(self) -> dict[str, Any]:
        """One row of the `chunk_sizes` JSON list."""
        return {
            "max_tokens": self.max_tokens,
            **self.metrics,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 4),
            "embedded": self.embedded,
            "from_cache": self.from_cache,
        }


@dataclass
class ChunkSizeResult:
    """One row per chunk size. `to_dict` keys are a stable JSON contract."""

    dataset: str
    split: str
    overlap: int
    queries: int
    docs: int
    rows: list[ChunkSizeRow]
    space: dict[str, Any]
    validation: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """e.g. a size above the model's limit, evaluated at the limit instead."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON `eval --chunk-tokens --json` prints."""
        return {
            "chunk_sizes": [row.to_dict() for row in self.rows],
            "queries": self.queries,
            "docs": self.docs,
            "dataset": self.dataset,
            "split": self.split,
            "retriever": "dense",
            "overlap": self.overlap,
            "space": self.space,
            "validation": self.validation,
            "notes": self.notes,
        }


def parse_chunk_sizes(raw: str) -> list[int]:
    """`"64,128,256"` -> `[64, 128, 256]` (each size once, in the order given)."""
    sizes: list[int] = []
    for part in raw.split(","):
        try:
            size = int(part.strip())
        except ValueError:
            raise InputError(
                f"--chunk-tokens expects whole numbers separated by commas, e.g. 64,128,256; "
                f"got {part.strip()!r}"
            ) from None
        if size <= 0:
            raise InputError(f"--chunk-tokens sizes must be at least 1 token, got {size}")
        sizes.append(size)
    return list(dict.fromkeys(sizes))


def clamp_chunk_sizes(sizes: Sequence[int], encoder: Any) -> tuple[list[int], list[str]]:
    """Sizes above what the model accepts become its limit (each size once), with a
    note per clamped size: `--chunk-tokens 64,128,256` works for a 254-token model."""
    room = content_limit(encoder)
    if room is None:
        return list(sizes), []
    notes = [
        f"--chunk-tokens {size} is more than {encoder.name} accepts ({room} content "
        f"tokens): evaluated at {room}"
        for size in sizes
        if size > room
    ]
    return list(dict.fromkeys(min(size, room) for size in sizes)), notes


def check_chunk_sizes(sizes: Sequence[int], overlap: int, encoder: Any) -> None:
    """Refuse sizes the model cannot take and an overlap that does not fit, before any
    text is embedded."""
    if not sizes:
        raise InputError("--chunk-tokens needs at least one size, e.g. 64,128,256")
    room = content_limit(encoder)
    too_big = [s for s in sizes if room is not None and s > room]
    if too_big:
        raise InputError(
            f"--chunk-tokens {too_big[0]} is more than {encoder.name} accepts ({room} "
            f"content tokens); use sizes up to {room}"
        )
    if not 0 <= overlap < min(sizes):
        raise InputError(
            f"--chunk-overlap must be between 0 and the smallest chunk size - 1 "
            f"({min(sizes) - 1}), got {overlap}"
        )


def evaluate_chunked(
    dataset: RetrievalDataset,
    sizes: Sequence[int],
    options: EvalOptions | None = None,
    metrics: list[str] | None = None,
    overlap: int = 0,
) -> ChunkSizeResult:
    """Dense retrieval with documents chunked at each of `sizes` tokens (`overlap` tokens
    shared between neighbouring chunks), scored per size."""
    options = options or EvalOptions()
    names = metrics or list(DEFAULT_METRICS)
    depth = max(parse_metric(n)[1] for n in names)
    encoder = options.encoder()
    sizes, notes = clamp_chunk_sizes(sizes, encoder)
    check_chunk_sizes(sizes, overlap, encoder)
    ids = list(dataset.corpus)
    texts = [dataset.corpus[d].full_text for d in ids]
    qids = list(dataset.queries)
    qvec = encoder.encode([dataset.queries[q] for q in qids], Kind.QUERY, options.batch_size)
    rows = []
    for size in sizes:
        hits_before, misses_before = cache_counts(encoder)
        start = time.perf_counter()
        scores, n_chunks = best_chunk_scores(
            texts, qvec, encoder, size, overlap=overlap,
            embed=lambda chunk_texts, kind: encoder.encode(chunk_texts, kind, options.batch_size),
        )  # fmt: skip
        hits_after, misses_after = cache_counts(encoder)
        run: dict[str, dict[str, float]] = {}
        for qid, row in zip(qids, scores, strict=True):
            idx, vals = topk(row, min(depth, len(ids)))
            run[qid] = {ids[i]: float(v) for i, v in zip(idx, vals, strict=True) if v > -np.inf}
        rows.append(
            ChunkSizeRow(
                max_tokens=size,
                metrics=evaluate(dataset.qrels, run, names),
                chunks=n_chunks,
                seconds=time.perf_counter() - start,
                embedded=misses_after - misses_before,
                from_cache=hits_after - hits_before,
            )
        )
    return ChunkSizeResult(
        dataset=dataset.name,
        split=dataset.split,
        overlap=overlap,
        queries=len(qids),
        docs=len(ids),
        rows=rows,
        space=encoder.space.to_dict(),
        validation=dataset.report.to_dict(),
        notes=notes,
    )
