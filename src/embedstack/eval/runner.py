"""Run one retriever set-up over one dataset and time it: the unit `eval` and `compare`
are built from."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder, normalize_rows
from embedstack.eval.corpus import NoVectors, index_corpus
from embedstack.eval.datasets import RetrievalDataset, StsDataset
from embedstack.eval.metrics import correlation, evaluate, parse_metric
from embedstack.eval.options import EvalOptions, cache_counts
from embedstack.eval.presets import plan
from embedstack.progress import Progress, report
from embedstack.search.pipeline import Pipeline
from embedstack.types import Hit, Kind

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@10", "precision@10")
QUERY_BLOCK = 256  # queries per batched search: a progress step, bounded memory


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
    ranked: dict[str, list[Hit]] = field(default_factory=dict, repr=False)
    """query id -> the hits that were scored, best first (not part of the JSON)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON `embedstack eval --json` prints."""
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
    options: EvalOptions | None = None,
    metrics: list[str] | None = None,
) -> RetrievalResult:
    """Index the corpus into a collection (cached), run every query through the same
    `Pipeline.from_spec` that `embedstack search` uses, and score the ranked lists."""
    options = options or EvalOptions()
    names = metrics or list(DEFAULT_METRICS)
    depth = max(parse_metric(n)[1] for n in names)
    preset = plan(retriever, options.params, options.model)
    encoder = options.encoder() if preset.dense else None
    corpus = index_corpus(
        dataset, encoder or NoVectors(), preset.indexes, root=options.collections_dir(),
        batch_size=options.batch_size, progress=options.progress,
    )  # fmt: skip
    try:
        hits_before, misses_before = cache_counts(encoder)
        start = time.perf_counter()
        pipeline = Pipeline.from_spec(corpus.collection, preset.spec)
        ranked = _search(pipeline, dataset, depth, options.progress)
        query_seconds = time.perf_counter() - start
        hits_after, misses_after = cache_counts(encoder)
        memory = corpus.memory_bytes(preset.retrievers)
    finally:
        corpus.close()
    from_cache, embedded = corpus.reused, corpus.embedded
    if encoder is not None:
        from_cache += hits_after - hits_before
        looked_up = (hits_after - hits_before) + (misses_after - misses_before)
        embedded += (misses_after - misses_before) if looked_up else len(ranked)
    else:
        from_cache = embedded = 0  # nothing embedded: the index is rebuilt or reused
    options.loaded = encoder
    run = {qid: {h.id: h.score for h in hits} for qid, hits in ranked.items()}
    return RetrievalResult(
        dataset=dataset.name,
        split=dataset.split,
        retriever=retriever,
        metrics=evaluate(dataset.qrels, run, names),
        queries=len(ranked),
        docs=len(dataset.corpus),
        index_seconds=corpus.seconds,
        index_cpu_seconds=corpus.cpu_seconds,
        query_seconds=query_seconds,
        memory_bytes=memory,
        embedded=embedded,
        from_cache=from_cache,
        space=encoder.space.to_dict() if encoder is not None else None,
        validation=dataset.report.to_dict(),
        ranked=ranked,
    )


def _search(
    pipeline: Pipeline,
    dataset: RetrievalDataset,
    depth: int,
    progress: Progress | None,
) -> dict[str, list[Hit]]:
    qids = list(dataset.queries)
    ranked: dict[str, list[Hit]] = {}
    report(progress, "searching", 0, len(qids))
    for start in range(0, len(qids), QUERY_BLOCK):
        block = qids[start : start + QUERY_BLOCK]
        lists = pipeline.search_many([dataset.queries[q] for q in block], depth)
        ranked.update(zip(block, lists, strict=True))
        report(progress, "searching", len(ranked), len(qids))
    return ranked


@dataclass
class StsResult:
    """Correlation of one encoder with gold STS scores. `to_dict` is a JSON contract."""

    dataset: str
    pairs: int
    spearman: float
    pearson: float
    seconds: float
    space: dict[str, Any]
    validation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON `embedstack eval-sts --json` prints."""
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
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> StsResult:
    """Spearman/Pearson between cosine of the two sentence embeddings and gold scores.
    Pass an encoder from `load_encoder(spec, cache=...)` so a re-run embeds nothing."""
    start = time.perf_counter()
    # STS sentences are symmetric: both sides embedded as documents (no query prefix).
    texts = dataset.sentences1 + dataset.sentences2
    parts = []
    report(progress, "embedding sentences", 0, len(texts))
    for first in range(0, len(texts), QUERY_BLOCK):
        parts.append(encoder.encode(texts[first : first + QUERY_BLOCK], Kind.DOCUMENT, batch_size))
        report(progress, "embedding sentences", first + len(parts[-1]), len(texts))
    vectors = normalize_rows(np.concatenate(parts) if parts else np.zeros((0, encoder.dim)))
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
