"""Apps built on collections and pipelines: FAQ answering, dedup, RAG retrieval, clusters."""

from embedstack.apps.cluster import Clustering, cluster_collection, write_html
from embedstack.apps.dedup import Deduplicator, DupCluster, DupKind
from embedstack.apps.dedup_calibrate import calibrate_dedup, pairwise_pr
from embedstack.apps.dedup_report import write_report as write_dedup_report
from embedstack.apps.dedup_thresholds import (
    KnownThreshold,
    UncalibratedEncoderError,
    semantic_threshold,
)
from embedstack.apps.faq import FAQ, FAQAnswer, QAPair, load_pairs
from embedstack.apps.rag import chunk_files, evaluate_chunk_sizes, index_files, retrieve
from embedstack.apps.threshold import Calibration, calibrate

__all__ = [
    "FAQ",
    "Calibration",
    "Clustering",
    "Deduplicator",
    "DupCluster",
    "DupKind",
    "FAQAnswer",
    "KnownThreshold",
    "QAPair",
    "UncalibratedEncoderError",
    "calibrate",
    "calibrate_dedup",
    "chunk_files",
    "cluster_collection",
    "evaluate_chunk_sizes",
    "index_files",
    "load_pairs",
    "pairwise_pr",
    "retrieve",
    "semantic_threshold",
    "write_dedup_report",
    "write_html",
]
