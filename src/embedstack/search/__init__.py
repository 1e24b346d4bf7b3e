"""Retrieval: retrievers -> fusion -> reranker, built from one spec by `Pipeline.from_spec`."""

from embedstack.search.chunks import best_chunk_scores
from embedstack.search.colbert import ColbertReranker
from embedstack.search.fusion import RRF, Fusion, LinearFusion, Normalization, fusion_from_config
from embedstack.search.pipeline import Explanation, Pipeline, combine
from embedstack.search.rerank import CrossEncoderReranker, Reranker, reranker_from_config
from embedstack.search.retrievers import (
    DenseRetriever,
    IndexRetriever,
    Retriever,
    resolve_retriever,
    search_many,
)
from embedstack.search.spec import (
    PRESETS,
    PipelineSpec,
    default_fusion,
    store_tuned_fusion,
    tuned_fusion,
)

__all__ = [
    "PRESETS",
    "RRF",
    "ColbertReranker",
    "CrossEncoderReranker",
    "DenseRetriever",
    "Explanation",
    "Fusion",
    "IndexRetriever",
    "LinearFusion",
    "Normalization",
    "Pipeline",
    "PipelineSpec",
    "Reranker",
    "Retriever",
    "best_chunk_scores",
    "combine",
    "default_fusion",
    "fusion_from_config",
    "reranker_from_config",
    "resolve_retriever",
    "search_many",
    "store_tuned_fusion",
    "tuned_fusion",
]
