"""Run one retriever set-up over one dataset and time it: the unit `eval` and `compare`
are built from."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder, normalize_rows
from embedstack.eval.cache import Progress, VectorCache
from embedstack.eval.datasets import RetrievalDataset, StsDataset
from embedstack.eval.metrics import correlation, evaluate, parse_metric
from embedstack.search.presets import PresetOptions, build
from embedstack.types import Kind

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@10", "precision@10")


@dataclass
class RetrievalResult:
    """Quality, size and timing of one run. `to_dict` keys are a stable JSON contract."""

    dataset: str
    split: str
    retriever: str
    metrics: dict[str, float]
    queries: int
    docs: int
    index_seconds: float
    index_cpu_seconds: float
    query_seconds: float
    memory_bytes: int
    embedded: int
    from_cache: int
    space: dict[str, Any] | None = None
    validation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.metrics)
        out.update(
            dataset=self.dataset,
            split=self.split,
            retriever=self.retriever,
            queries=self.queries,
            docs=self.docs,
            index_seconds=round(self.index_seconds, 4),
            index_cpu_seconds=round(self.index_cpu_seconds, 4),
            query_seconds=round(self.query_seconds, 4),
            index_memory_bytes=self.memory_bytes,
            embedded=self.embedded,
            from_cache=self.from_cache,
            space=self.space,
            validation=self.validation,
        )
        return out


def metric_names(ks: list[int] | None) -> list[str]:
    """The default metric set, plus nDCG/recall/MRR/MAP/P at each requested k."""
    names = list(DEFAULT_METRICS)
    for k in ks or []:
        names += [f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision")]
    for name in names:
        parse_metric(name)
    return list(dict.fromkeys(names))


def evaluate_retrieval(
    dataset: RetrievalDataset,
    retriever: str = "dense",
    options: PresetOptions | None = None,
    metrics: list[str] | None = None,
) -> RetrievalResult:
    """Index the corpus with preset `retriever`, run every query, score the run."""
    options = options or PresetOptions()
    names = metrics or list(DEFAULT_METRICS)
    depth = max(parse_metric(n)[1] for n in names)
    cache = options.cache
    hits_before, misses_before = (cache.hits, cache.misses) if cache else (0, 0)
    docs = dataset.doc_texts()
    wall, cpu = time.perf_counter(), time.process_time()
    index = build(retriever, docs, options)
    index_seconds = time.perf_counter() - wall
    index_cpu = time.process_time() - cpu
    qids = list(dataset.queries)
    start = time.perf_counter()
    ranked = index.search_many([dataset.queries[q] for q in qids], depth)
    query_seconds = time.perf_counter() - start
    run = {qid: dict(hits) for qid, hits in zip(qids, ranked, strict=True)}
    encoder = options.loaded
    return RetrievalResult(
        dataset=dataset.name,
        split=dataset.split,
        retriever=retriever,
        metrics=evaluate(dataset.qrels, run, names),
        queries=len(qids),
        docs=len(docs),
        index_seconds=index_seconds,
        index_cpu_seconds=index_cpu,
        query_seconds=query_seconds,
        memory_bytes=index.memory_bytes(),
        embedded=(cache.misses - misses_before) if cache else 0,
        from_cache=(cache.hits - hits_before) if cache else 0,
        space=encoder.space.to_dict() if encoder is not None else None,
        validation=dataset.report.to_dict(),
    )


@dataclass
class StsResult:
    dataset: str
    pairs: int
    spearman: float
    pearson: float
    seconds: float
    space: dict[str, Any]
    validation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "pairs": self.pairs,
            "spearman": self.spearman,
            "pearson": self.pearson,
            "spearman_x100": round(self.spearman * 100, 2),
            "seconds": round(self.seconds, 4),
            "space": self.space,
            "validation": self.validation,
        }


def evaluate_sts(
    dataset: StsDataset,
    encoder: Encoder,
    cache: VectorCache | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> StsResult:
    """Spearman/Pearson between cosine of the two sentence embeddings and gold scores."""
    start = time.perf_counter()
    # STS sentences are symmetric: both sides embedded as documents (no query prefix).
    texts = dataset.sentences1 + dataset.sentences2
    if cache is not None:
        vectors = cache.embed(encoder, texts, Kind.DOCUMENT, batch_size, progress)
    else:
        vectors = encoder.encode(texts, Kind.DOCUMENT, batch_size)
    vectors = normalize_rows(vectors)
    n = len(dataset.sentences1)
    similarity = np.einsum("ij,ij->i", vectors[:n], vectors[n:])
    result = correlation(similarity, dataset.scores)
    return StsResult(
        dataset=dataset.name,
        pairs=n,
        spearman=result.spearman,
        pearson=result.pearson,
        seconds=time.perf_counter() - start,
        space=encoder.space.to_dict(),
        validation=dataset.report.to_dict(),
    )
