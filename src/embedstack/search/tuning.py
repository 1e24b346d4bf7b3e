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
from typing import TYPE_CHECKING, Any

from embedstack.errors import InputError
from embedstack.eval.metrics import evaluate
from embedstack.search.fusion import RRF, Fusion, LinearFusion, Normalization
from embedstack.types import Hit

if TYPE_CHECKING:
    from embedstack.eval.datasets import RetrievalDataset
    from embedstack.search.presets import PresetOptions

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


def score_fusion(
    fusion: Fusion, rankings: SplitRankings, qrels: Qrels, metric: str = "ndcg@10"
) -> float:
    """Mean `metric` of `fusion` over the judged queries of one split."""
    depth = int(metric.split("@")[1])
    run = {
        qid: {h.id: float(depth - i) for i, h in enumerate(fusion.fuse(lists, limit=depth))}
        for qid, lists in rankings.items()
    }
    return evaluate(qrels, run, [metric])[metric]


@dataclass
class TuneResult:
    best: Fusion
    train_score: float
    metric: str
    tried: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    test_score: float | None = None
    default_test_score: float | None = None
    default_train_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.config(),
            "metric": self.metric,
            "train_score": self.train_score,
            "test_score": self.test_score,
            "default_train_score": self.default_train_score,
            "default_test_score": self.default_test_score,
            "tried": len(self.tried),
        }


def tune_fusion(
    rankings: SplitRankings,
    qrels: Qrels,
    candidates: Sequence[Fusion] | None = None,
    metric: str = "ndcg@10",
) -> TuneResult:
    """The candidate with the best mean `metric` on this split (first one wins ties)."""
    if not rankings:
        raise InputError("no queries to tune on: the tuning split is empty")
    names = list(next(iter(rankings.values())))
    candidates = list(candidates or candidate_fusions(names))
    tried = [(c.config(), score_fusion(c, rankings, qrels, metric)) for c in candidates]
    best_index = max(range(len(tried)), key=lambda i: (tried[i][1], -i))
    log.info(
        "tried %d fusion settings; best %s = %.4f",
        len(tried),
        tried[best_index][0],
        tried[best_index][1],
    )
    return TuneResult(candidates[best_index], tried[best_index][1], metric, tried)


def tune_and_report(
    train: SplitRankings,
    train_qrels: Qrels,
    test: SplitRankings,
    test_qrels: Qrels,
    *,
    default: Fusion,
    candidates: Sequence[Fusion] | None = None,
    metric: str = "ndcg@10",
) -> TuneResult:
    """Choose on `train`, then score the choice and `default` on the held-out `test`."""
    overlap = set(train) & set(test)
    if overlap:
        raise InputError(
            f"{len(overlap)} queries are in both the tuning and the reporting split (e.g. "
            f"{sorted(overlap)[:3]}): tune on one split (e.g. train) and report on another"
        )
    result = tune_fusion(train, train_qrels, candidates, metric)
    result.test_score = score_fusion(result.best, test, test_qrels, metric)
    result.default_train_score = score_fusion(default, train, train_qrels, metric)
    result.default_test_score = score_fusion(default, test, test_qrels, metric)
    return result


def tune_on_dataset(
    train: RetrievalDataset,
    test: RetrievalDataset,
    options: PresetOptions,
    *,
    depth: int = 100,
    step: float = 0.1,
    metric: str = "ndcg@10",
) -> TuneResult:
    """Index the corpus once with dense + BM25, retrieve both splits, tune on `train`."""
    from embedstack.search.hybrid import build_hybrid
    from embedstack.search.pipeline import default_fusion

    if train.corpus.keys() != test.corpus.keys():
        raise InputError("the tuning and reporting splits must share one corpus")
    retriever = build_hybrid(train.doc_texts(), options)
    names = list(retriever.components)
    rankings = {}
    for split in (train, test):
        qids = list(split.queries)
        lists = retriever.rankings_many([split.queries[q] for q in qids], depth)
        rankings[split.split] = dict(zip(qids, lists, strict=True))
    return tune_and_report(
        rankings[train.split], train.qrels, rankings[test.split], test.qrels,
        default=default_fusion(names), candidates=candidate_fusions(names, step), metric=metric,
    )  # fmt: skip
