"""Tune fusion settings on one split's relevance judgements, report on another.

The search is a grid: every weight vector on a simplex lattice (step 0.1 by default) for
each normalisation of linear fusion, and for weighted RRF with several k. Retrieval runs
once per split; each candidate only re-fuses the cached lists, so a grid of ~100 settings
over ~1000 queries takes seconds. Choosing and reporting on the same queries would
overstate the gain, so `tune_and_report` refuses overlapping query ids.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.eval.corpus import index_corpus
from embedstack.eval.datasets import RetrievalDataset
from embedstack.eval.metrics import parse_metric, per_query
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.progress import report
from embedstack.search.fusion import RRF, Fusion, LinearFusion, Normalization
from embedstack.search.pipeline import Pipeline
from embedstack.search.retrievers import search_many
from embedstack.search.spec import default_fusion
from embedstack.types import Hit

log = logging.getLogger(__name__)

# query id -> retriever name -> hits (best first)
SplitRankings = Mapping[str, Mapping[str, Sequence[Hit]]]
Qrels = Mapping[str, Mapping[str, int]]
RRF_KS = (5, 10, 20, 40, 60, 100)


def weight_grid(names: Sequence[str], step: float = 0.1) -> list[dict[str, float]]:
    """All weight vectors with entries in multiples of `step` summing to 1."""
    if not 0 < step <= 1:
        raise InputError(f"weight step must be in (0, 1], got {step}")
    units = round(1 / step)
    grid = []
    for combo in itertools.product(range(units + 1), repeat=len(names)):
        if sum(combo) == units:
            grid.append({n: round(c * step, 10) for n, c in zip(names, combo, strict=True)})
    return grid


def candidate_fusions(
    names: Sequence[str],
    step: float = 0.1,
    normalizations: Sequence[str | Normalization] = tuple(Normalization),
    rrf_ks: Sequence[int] = RRF_KS,
) -> list[Fusion]:
    """Linear fusion for every (normalisation, weights) and RRF for every (k, weights)."""
    grid = weight_grid(names, step)
    out: list[Fusion] = [
        LinearFusion(w, Normalization.parse(n)) for n in normalizations for w in grid
    ]
    out += [RRF(k=k, weights=w) for k in rrf_ks for w in grid if all(v > 0 for v in w.values())]
    return out


def per_query_scores(
    fusion: Fusion, rankings: SplitRankings, qrels: Qrels, metric: str = "ndcg@10"
) -> np.ndarray:
    """`metric` of `fusion` for each judged query (in qrels order)."""
    depth = parse_metric(metric)[1]
    run = {
        qid: {h.id: float(depth - i) for i, h in enumerate(fusion.fuse(lists, limit=depth))}
        for qid, lists in rankings.items()
    }
    values = per_query(qrels, run, [metric])[metric]
    return np.array([values[q] for q in qrels], dtype=np.float64)


def score_fusion(
    fusion: Fusion, rankings: SplitRankings, qrels: Qrels, metric: str = "ndcg@10"
) -> float:
    """Mean `metric` of `fusion` over the judged queries of one split."""
    if not qrels:
        raise InputError("no judged queries: an empty split cannot be evaluated")
    return float(per_query_scores(fusion, rankings, qrels, metric).mean())


@dataclass
class TuneResult:
    """The chosen fusion and how it scored (and the default) on both splits."""

    best: Fusion
    train_score: float
    metric: str
    tried: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    kept_default: bool = False
    gain: float = 0.0
    gain_se: float = 0.0
    test_score: float | None = None
    default_test_score: float | None = None
    default_train_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON `embedstack tune --json` prints (plus "written")."""
        return {
            "best": self.best.config(),
            "metric": self.metric,
            "train_score": self.train_score,
            "test_score": self.test_score,
            "default_train_score": self.default_train_score,
            "default_test_score": self.default_test_score,
            "tried": len(self.tried),
            "kept_default": self.kept_default,
            "train_gain_over_default": self.gain,
            "train_gain_standard_error": self.gain_se,
        }


def tune_fusion(
    rankings: SplitRankings,
    qrels: Qrels,
    candidates: Sequence[Fusion] | None = None,
    metric: str = "ndcg@10",
    *,
    default: Fusion | None = None,
    min_z: float = 2.0,
) -> TuneResult:
    """The candidate with the best mean `metric` on this split (first one wins ties).

    With a `default`, the winner replaces it only if its per-query gain over the default
    is more than `min_z` standard errors: a grid of ~100 settings always finds one that
    looks a little better on the tuning queries, and small gains rarely carry over.
    """
    if not rankings or not qrels:
        raise InputError("no queries to tune on: the tuning split is empty")
    names = list(next(iter(rankings.values())))
    candidates = list(candidates or candidate_fusions(names))
    scores = [per_query_scores(c, rankings, qrels, metric) for c in candidates]
    tried = [(c.config(), float(v.mean())) for c, v in zip(candidates, scores, strict=True)]
    best = max(range(len(tried)), key=lambda i: (tried[i][1], -i))
    log.info("tried %d fusion settings; best %s = %.4f", len(tried), *tried[best])
    result = TuneResult(candidates[best], tried[best][1], metric, tried)
    if default is not None:
        diff = scores[best] - per_query_scores(default, rankings, qrels, metric)
        result.gain = float(diff.mean())
        result.gain_se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        if result.gain <= min_z * result.gain_se:
            result.best, result.train_score = default, tried[best][1] - result.gain
            result.kept_default = True
    return result


def tune_and_report(
    train: SplitRankings,
    train_qrels: Qrels,
    test: SplitRankings,
    test_qrels: Qrels,
    *,
    default: Fusion,
    candidates: Sequence[Fusion] | None = None,
    metric: str = "ndcg@10",
    min_z: float = 2.0,
) -> TuneResult:
    """Choose on `train`, then score the choice and `default` on the held-out `test`."""
    overlap = set(train) & set(test)
    if overlap:
        raise InputError(
            f"{len(overlap)} queries are in both the tuning and the reporting split (e.g. "
            f"{sorted(overlap)[:3]}): tune on one split (e.g. train) and report on another"
        )
    result = tune_fusion(train, train_qrels, candidates, metric, default=default, min_z=min_z)
    result.test_score = score_fusion(result.best, test, test_qrels, metric)
    result.default_train_score = score_fusion(default, train, train_qrels, metric)
    result.default_test_score = score_fusion(default, test, test_qrels, metric)
    return result


def tune_on_dataset(
    train: RetrievalDataset,
    test: RetrievalDataset,
    options: EvalOptions,
    *,
    depth: int = 100,
    step: float = 0.1,
    metric: str = "ndcg@10",
) -> TuneResult:
    """Index the corpus once (the cached evaluation collection) with dense + BM25, take
    each retriever's lists for both splits from the `hybrid` pipeline, tune on `train`."""
    if train.corpus.keys() != test.corpus.keys():
        raise InputError("the tuning and reporting splits must share one corpus")
    preset = plan("hybrid", {}, options.model)
    corpus = index_corpus(
        train, options.encoder(), preset.indexes, root=options.collections_dir(),
        batch_size=options.batch_size, progress=options.progress,
    )  # fmt: skip
    try:
        pipeline = Pipeline.from_spec(corpus.collection, preset.spec)
        names = list(pipeline.retrievers)
        rankings: dict[str, dict[str, dict[str, list[Hit]]]] = {}
        total, done = len(train.queries) + len(test.queries), 0
        report(options.progress, "searching", 0, total)
        for split in (train, test):
            qids = list(split.queries)
            texts = [split.queries[q] for q in qids]
            lists = {n: search_many(r, texts, depth) for n, r in pipeline.retrievers.items()}
            rankings[split.split] = {
                qid: {n: lists[n][i] for n in names} for i, qid in enumerate(qids)
            }
            done += len(qids)
            report(options.progress, "searching", done, total)
    finally:
        corpus.close()
    report(options.progress, "tuning fusion", 0, 1)
    result = tune_and_report(
        rankings[train.split], train.qrels, rankings[test.split], test.qrels,
        default=default_fusion(names), candidates=candidate_fusions(names, step), metric=metric,
    )  # fmt: skip
    report(options.progress, "tuning fusion", 1, 1)
    return result
