"""Named retriever set-ups for evaluation and comparison (`--retriever NAME`).

Contract for other modules: a preset is one line in `PRESETS`, `"name":
"module:function"`, pointing at a builder

    build(docs: Mapping[str, str], options: PresetOptions) -> BatchRetriever

`docs` maps doc id -> the text to index (BEIR `title + " " + text`), in corpus order.
The builder indexes everything up front; the evaluator then times `search_many`
separately. A `BatchRetriever` has

    search_many(queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]
        one list per query of (doc id, score), best first, at most k long;
    memory_bytes() -> int
        bytes the index holds in memory (reported as "index memory").

Builders that embed should call `options.encoder()` (loaded once, from `--model` and
`--pooling`) and `options.embed(texts, kind)` (goes through the on-disk vector cache
and reports progress). Preset-specific settings arrive in `options.params`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from embedstack.encoders.base import Encoder, normalize_rows
from embedstack.errors import InputError
from embedstack.eval.cache import Progress, VectorCache
from embedstack.similarity import topk
from embedstack.types import Kind

PRESETS: dict[str, str] = {
    "dense": "embedstack.search.presets:build_dense",
    "bm25": "embedstack.search.lexical:build_bm25",
    "hybrid": "embedstack.search.hybrid:build_hybrid",
    "hybrid+rerank": "embedstack.search.hybrid:build_hybrid_rerank",
    "splade": "embedstack.search.lexical:build_splade",
}


class BatchRetriever(Protocol):
    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]: ...

    def memory_bytes(self) -> int: ...


@dataclass
class PresetOptions:
    """What a builder may use: model settings, the vector cache, progress, parameters."""

    model: str | None = None
    encoder_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    cache: VectorCache | None = None
    progress: Progress | None = None
    params: dict[str, Any] = field(default_factory=dict)
    loaded: Encoder | None = field(default=None, repr=False)
    """An encoder to use instead of loading `model`; after a run, the encoder a builder
    used (None if it used none: the evaluator then does not time an encoder)."""

    def encoder(self) -> Encoder:
        if self.loaded is None:
            from embedstack.registry import load_encoder

            self.loaded = load_encoder(self.model, **self.encoder_options)
        return self.loaded

    def embed(self, texts: Sequence[str], kind: Kind | str) -> np.ndarray:
        encoder = self.encoder()
        if self.cache is not None:
            return self.cache.embed(encoder, texts, kind, self.batch_size, self.progress)
        return encoder.encode(list(texts), kind, self.batch_size)


def build(name: str, docs: Mapping[str, str], options: PresetOptions) -> BatchRetriever:
    """Build the preset `name` over `docs`."""
    if name not in PRESETS:
        raise InputError(
            f"unknown retriever preset {name!r}; available: {', '.join(sorted(PRESETS))}"
        )
    module, attr = PRESETS[name].split(":")
    builder = getattr(importlib.import_module(module), attr)
    return builder(docs, options)


class DenseBatchRetriever:
    """Exact (brute-force) cosine search over corpus embeddings."""

    BLOCK = 256  # queries scored per matrix product: bounds memory at BLOCK x n floats

    def __init__(self, ids: list[str], vectors: np.ndarray, options: PresetOptions) -> None:
        self.ids = ids
        self.vectors = normalize_rows(np.ascontiguousarray(vectors, dtype=np.float32))
        self.options = options

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        if not queries:
            return []
        query_vectors = normalize_rows(self.options.embed(queries, Kind.QUERY))
        results: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), self.BLOCK):
            block = query_vectors[start : start + self.BLOCK] @ self.vectors.T
            for row in block:
                idx, vals = topk(row, k)
                results.append([(self.ids[i], float(v)) for i, v in zip(idx, vals, strict=True)])
            if self.options.progress:
                self.options.progress("searching", len(results), len(queries))
        return results

    def memory_bytes(self) -> int:
        return int(self.vectors.nbytes)


def build_dense(docs: Mapping[str, str], options: PresetOptions) -> DenseBatchRetriever:
    ids = list(docs)
    vectors = options.embed([docs[i] for i in ids], Kind.DOCUMENT)
    return DenseBatchRetriever(ids, vectors, options)
