"""Hybrid presets for evaluation (`--retriever hybrid | hybrid+rerank`).

They follow the `embedstack.search.presets` builder contract: the component presets
(`dense`, `bm25`) are built once over the corpus and queried in batches; each query's
lists are then fused (and reranked) with the same `combine` the `Pipeline` uses, so an
evaluation measures exactly what `Pipeline.search` returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from embedstack.errors import InputError
from embedstack.search.fusion import Fusion, fusion_from_config
from embedstack.search.pipeline import combine, default_fusion
from embedstack.search.presets import BatchRetriever, PresetOptions, build
from embedstack.search.rerank import CrossEncoderReranker, Reranker
from embedstack.types import Hit

COMPONENTS = ("dense", "bm25")
RERANKER_ENV = "EMBEDSTACK_RERANKER"
OWN_PARAMS = ("fusion", "depth", "rerank", "rerank_depth")


class FusedBatchRetriever:
    """Several batch retrievers fused per query (and optionally reranked)."""

    def __init__(
        self,
        components: Mapping[str, BatchRetriever],
        docs: Mapping[str, str],
        fusion: Fusion | None = None,
        *,
        reranker: Reranker | None = None,
        depth: int = 100,
        rerank_depth: int = 50,
    ) -> None:
        self.components = dict(components)
        self.docs = docs
        self.fusion = fusion or default_fusion(list(self.components))
        self.reranker = reranker
        self.depth, self.rerank_depth = depth, rerank_depth

    def rankings_many(
        self, queries: Sequence[str], depth: int | None = None
    ) -> list[dict[str, list[Hit]]]:
        """Per query, each component's hits (best first), with texts for reranking."""
        depth = depth or self.depth
        per_component = {
            name: retriever.search_many(queries, depth)
            for name, retriever in self.components.items()
        }
        out = []
        for i in range(len(queries)):
            out.append(
                {
                    name: [
                        Hit(
                            doc_id,
                            score,
                            self.docs.get(doc_id, ""),
                            stages={name: {"score": score, "rank": r}},
                        )
                        for r, (doc_id, score) in enumerate(lists[i], start=1)
                    ]
                    for name, lists in per_component.items()
                }
            )
        return out

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        rankings = self.rankings_many(queries, max(self.depth, k))
        return [
            [
                (h.id, h.score)
                for h in combine(
                    q,
                    r,
                    k,
                    fusion=self.fusion,
                    reranker=self.reranker,
                    rerank_depth=self.rerank_depth,
                )
            ]
            for q, r in zip(queries, rankings, strict=True)
        ]

    def memory_bytes(self) -> int:
        return sum(int(r.memory_bytes()) for r in self.components.values())


def _fusion(params: Mapping[str, Any]) -> Fusion | None:
    config = params.get("fusion")
    return fusion_from_config(config) if config else None


def build_hybrid(docs: Mapping[str, str], options: PresetOptions) -> FusedBatchRetriever:
    """Dense + BM25 with the default fusion, or `options.params["fusion"]` (a config).

    `fusion`, `depth`, `rerank` and `rerank_depth` are this preset's own parameters; any
    other parameter goes to the components (e.g. BM25's `k1`).
    """
    own = {k: v for k, v in options.params.items() if k in OWN_PARAMS}
    shared = replace(options, params={k: v for k, v in options.params.items() if k not in own})
    components = {name: build(name, docs, shared) for name in COMPONENTS}
    options.loaded = shared.loaded  # the evaluator reports the encoder that was used
    return FusedBatchRetriever(components, docs, _fusion(own), depth=int(own.get("depth", 100)))


def build_hybrid_rerank(docs: Mapping[str, str], options: PresetOptions) -> FusedBatchRetriever:
    """`hybrid` plus a cross-encoder from `params["rerank"]` or $EMBEDSTACK_RERANKER."""
    model_dir = options.params.get("rerank") or os.environ.get(RERANKER_ENV)
    if not model_dir:
        raise InputError(
            "the hybrid+rerank preset needs a cross-encoder model folder: set "
            f"{RERANKER_ENV}=/path/to/model (or pass params={{'rerank': path}})"
        )
    retriever = build_hybrid(docs, options)
    retriever.reranker = CrossEncoderReranker(model_dir)
    retriever.rerank_depth = int(options.params.get("rerank_depth", 50))
    return retriever
