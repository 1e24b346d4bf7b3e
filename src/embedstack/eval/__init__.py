"""Evaluation: score the pipelines users run on BEIR/FAQ/STS data, compare setups, tune."""

from embedstack.eval.chunked import ChunkSizeResult, evaluate_chunked
from embedstack.eval.compare import Comparison, run_comparison
from embedstack.eval.corpus import Corpus, index_corpus
from embedstack.eval.datasets import (
    RetrievalDataset,
    StsDataset,
    load_beir,
    load_faq,
    load_retrieval_dataset,
    load_sts,
)
from embedstack.eval.metrics import correlation, evaluate, ndcg_at_k
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import EvalPlan, plan
from embedstack.eval.report import write_report
from embedstack.eval.runner import RetrievalResult, StsResult, evaluate_retrieval, evaluate_sts
from embedstack.eval.setups import SetupConfig, load_configs
from embedstack.eval.tuning import TuneResult, tune_and_report, tune_fusion, tune_on_dataset

__all__ = [
    "ChunkSizeResult",
    "Comparison",
    "Corpus",
    "EvalOptions",
    "EvalPlan",
    "RetrievalDataset",
    "RetrievalResult",
    "SetupConfig",
    "StsDataset",
    "StsResult",
    "TuneResult",
    "correlation",
    "evaluate",
    "evaluate_chunked",
    "evaluate_retrieval",
    "evaluate_sts",
    "index_corpus",
    "load_beir",
    "load_configs",
    "load_faq",
    "load_retrieval_dataset",
    "load_sts",
    "ndcg_at_k",
    "plan",
    "run_comparison",
    "tune_and_report",
    "tune_fusion",
    "tune_on_dataset",
    "write_report",
]
