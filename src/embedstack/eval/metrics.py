"""Retrieval and STS metrics with trec_eval semantics.

Runs are `{query_id: {doc_id: score}}`, qrels `{query_id: {doc_id: relevance}}`. As in
trec_eval, a run is ranked by score descending with ties broken by doc id descending
(string order); relevance is graded (nDCG gain = relevance level, Järvelin-Kekäläinen),
and binary measures count relevance >= 1. Unlike trec_eval's default, averages are over
every judged query (`trec_eval -c`): a query the run misses scores 0 instead of
vanishing from the mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from embedstack.errors import InputError
from embedstack.numeric import pearson, spearman

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

METRICS = ("ndcg", "recall", "mrr", "map", "precision")
_NAME = re.compile(r"^(ndcg|recall|mrr|map|precision)@(\d+)$")


def rank(scores: Mapping[str, float]) -> list[str]:
    """Doc ids best first: score descending, ties by doc id descending (trec_eval)."""
    by_id = sorted(scores, reverse=True)
    return sorted(by_id, key=lambda d: -scores[d])  # stable: keeps the id order in ties


def ndcg_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded gains (the trec_eval / BEIR definition)."""
    gains = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    if ideal == 0:
        return 0.0
    dcg = sum(max(judged.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    return dcg / ideal


def recall_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant documents found in the top k."""
    relevant = {d for d, r in judged.items() if r > 0}
    if not relevant:
        return 0.0
    return sum(1 for d in ranking[:k] if d in relevant) / len(relevant)


def precision_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Hits in the top k divided by k, even when fewer than k were retrieved (trec_eval)."""
    return sum(1 for d in ranking[:k] if judged.get(d, 0) > 0) / k


def mrr_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k (0 if none)."""
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def map_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Average precision over the top k, divided by all relevant docs (trec_eval map_cut)."""
    relevant = sum(1 for r in judged.values() if r > 0)
    if relevant == 0:
        return 0.0
    hits = 0
    total = 0.0
    for i, d in enumerate(ranking[:k]):
        if judged.get(d, 0) > 0:
            hits += 1
            total += hits / (i + 1)
    return total / relevant


_FUNCTIONS = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "mrr": mrr_at_k,
    "map": map_at_k,
}


def parse_metric(name: str) -> tuple[str, int]:
    """`"ndcg@10"` -> `("ndcg", 10)`."""
    match = _NAME.match(name.strip().lower())
    if not match or int(match.group(2)) <= 0:
        raise InputError(f"unknown metric {name!r}; use NAME@K with NAME in {', '.join(METRICS)}")
    return match.group(1), int(match.group(2))


def per_query(qrels: Qrels, run: Run, metrics: Iterable[str]) -> dict[str, dict[str, float]]:
    """`{metric: {query_id: value}}` for every judged query."""
    parsed = {name: parse_metric(name) for name in metrics}
    out: dict[str, dict[str, float]] = {name: {} for name in parsed}
    for qid, judged in qrels.items():
        ranking = rank(run.get(qid, {}))
        for name, (kind, k) in parsed.items():
            out[name][qid] = _FUNCTIONS[kind](ranking, judged, k)
    return out


def evaluate(qrels: Qrels, run: Run, metrics: Iterable[str]) -> dict[str, float]:
    """Mean of each metric over all judged queries."""
    if not qrels:
        raise InputError("no judged queries: an empty split cannot be evaluated")
    return {
        name: float(np.mean(list(v.values()))) for name, v in per_query(qrels, run, metrics).items()
    }


@dataclass(frozen=True)
class Correlation:
    """Rank (Spearman) and linear (Pearson) correlation with gold scores."""

    spearman: float
    pearson: float


def correlation(predicted: np.ndarray, gold: np.ndarray) -> Correlation:
    """Spearman and Pearson correlation between model similarities and gold scores."""
    predicted = np.asarray(predicted, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if predicted.shape != gold.shape or predicted.ndim != 1 or predicted.size < 2:
        raise InputError("correlation needs two 1-d arrays of the same length (at least 2)")
    return Correlation(
        spearman=spearman(predicted, gold),
        pearson=pearson(predicted, gold),
    )
