from __future__ import annotations

import random

import numpy as np
import pytest

from embedstack.errors import InputError
from embedstack.eval.metrics import correlation, evaluate, parse_metric, per_query, rank

ranx = pytest.importorskip("ranx")

NAMES = ["ndcg@10", "ndcg@3", "recall@5", "recall@100", "mrr@10", "map@10", "precision@5"]
RANX = {
    "ndcg@10": "ndcg@10",
    "ndcg@3": "ndcg@3",
    "recall@5": "recall@5",
    "recall@100": "recall@100",
    "mrr@10": "mrr@10",
    "map@10": "map@10",
    "precision@5": "precision@5",
}


def _random_case(seed: int, ties: bool) -> tuple[dict, dict]:
    rng = random.Random(seed)
    docs = [f"d{i:03d}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(25):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 8))
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(v > 0 for v in qrels[qid].values()):
            qrels[qid][judged[0]] = 1
        retrieved = rng.sample(docs, rng.randint(3, 40))
        if ties:  # few distinct scores: many ties that only the doc-id rule orders
            run[qid] = {d: float(rng.randint(0, 4)) for d in retrieved}
        else:
            run[qid] = {d: rng.random() for d in retrieved}
    return qrels, run


def _untied(run: dict) -> dict:
    """The same ranking with distinct scores, following trec_eval's doc-id tie rule."""
    out = {}
    for qid, scores in run.items():
        ordered = sorted(scores, key=lambda d: (-scores[d], [-ord(c) for c in d]))
        out[qid] = {d: float(len(ordered) - i) for i, d in enumerate(ordered)}
    return out


def _ranx(qrels: dict, run: dict) -> dict[str, float]:
    positive = {q: {d: r for d, r in j.items() if r > 0} for q, j in qrels.items()}
    result = ranx.evaluate(
        ranx.Qrels(positive), ranx.Run(run), [RANX[n] for n in NAMES], make_comparable=True
    )
    return {n: float(result[RANX[n]]) for n in NAMES}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_ranx_without_ties(seed: int) -> None:
    qrels, run = _random_case(seed, ties=False)
    ours = evaluate(qrels, run, NAMES)
    theirs = _ranx(qrels, run)
    for name in NAMES:
        assert ours[name] == pytest.approx(theirs[name], abs=1e-9), name


@pytest.mark.parametrize("seed", [3, 4])
def test_ties_break_by_doc_id_descending_like_trec_eval(seed: int) -> None:
    qrels, run = _random_case(seed, ties=True)
    ours = evaluate(qrels, run, NAMES)
    theirs = _ranx(qrels, _untied(run))
    for name in NAMES:
        assert ours[name] == pytest.approx(theirs[name], abs=1e-9), name


def test_rank_tie_rule() -> None:
    assert rank({"a": 1.0, "c": 1.0, "b": 2.0}) == ["b", "c", "a"]


def test_hand_computed_graded_ndcg() -> None:
    qrels = {"q": {"a": 2, "b": 1}}
    run = {"q": {"b": 0.9, "a": 0.8, "x": 0.7}}
    ideal = 2 + 1 / np.log2(3)
    dcg = 1 + 2 / np.log2(3)
    assert evaluate(qrels, run, ["ndcg@10"])["ndcg@10"] == pytest.approx(dcg / ideal)


def test_missing_query_scores_zero_and_counts_in_mean() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0}}
    assert evaluate(qrels, run, ["mrr@10"])["mrr@10"] == 0.5
    assert per_query(qrels, run, ["mrr@10"])["mrr@10"] == {"q1": 1.0, "q2": 0.0}


def test_bad_metric_and_empty_qrels() -> None:
    with pytest.raises(InputError, match="unknown metric"):
        parse_metric("ndcg")
    with pytest.raises(InputError, match="empty split"):
        evaluate({}, {}, ["ndcg@10"])


def test_correlation_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    gold = rng.random(50)
    pred = gold + rng.normal(0, 0.3, 50)
    result = correlation(pred, gold)
    assert result.spearman == pytest.approx(stats.spearmanr(pred, gold)[0])
    assert result.pearson == pytest.approx(np.corrcoef(pred, gold)[0, 1])
