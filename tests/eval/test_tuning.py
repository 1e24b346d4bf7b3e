"""Fusion tuning picks what the judgements reward, and never reports on tuning queries."""

from __future__ import annotations

import pytest

from embedstack.errors import InputError
from embedstack.eval.datasets import load_beir
from embedstack.eval.options import EvalOptions
from embedstack.eval.presets import plan
from embedstack.eval.tuning import (
    candidate_fusions,
    score_fusion,
    tune_and_report,
    tune_fusion,
    tune_on_dataset,
    weight_grid,
)
from embedstack.search.fusion import RRF, LinearFusion
from embedstack.search.pipeline import Pipeline
from embedstack.types import Hit

from .conftest import DATA


def lists(order):
    return [Hit(d, float(len(order) - i)) for i, d in enumerate(order)]


def split(prefix, n):
    """'good' ranks the relevant doc 2nd, 'bad' ranks it 5th; fusion must lean to 'good'
    but still use 'bad', which alone puts a different decoy first."""
    rankings, qrels = {}, {}
    for i in range(n):
        rel = f"{prefix}{i}-rel"
        decoys = [f"{prefix}{i}-x{j}" for j in range(5)]
        rankings[f"{prefix}{i}"] = {
            "good": lists([decoys[0], rel, decoys[1], decoys[2]]),
            "bad": lists([decoys[3], decoys[1], decoys[2], decoys[4], rel]),
        }
        qrels[f"{prefix}{i}"] = {rel: 1}
    return rankings, qrels


def test_a_gain_within_noise_keeps_the_default():
    train, qrels = split("tr", 6)
    # make 'good' fail on two queries so that the gain over 'bad alone' varies by query
    for qid in ("tr0", "tr1"):
        train[qid]["good"] = lists(["nothing"])
    bad_alone = LinearFusion({"good": 0.0, "bad": 1.0})
    strict = tune_fusion(train, qrels, default=bad_alone, min_z=50.0)
    assert strict.kept_default and strict.best == bad_alone
    assert strict.train_score == pytest.approx(score_fusion(bad_alone, train, qrels))
    assert strict.gain > 0 and strict.gain <= 50.0 * strict.gain_se
    loose = tune_fusion(train, qrels, default=bad_alone, min_z=0.5)
    assert not loose.kept_default and loose.best != bad_alone


def test_weight_grid():
    assert weight_grid(["a", "b"], 0.5) == [
        {"a": 0.0, "b": 1.0},
        {"a": 0.5, "b": 0.5},
        {"a": 1.0, "b": 0.0},
    ]
    assert len(weight_grid(["a", "b", "c"], 0.1)) == 66
    with pytest.raises(InputError, match="weight step"):
        weight_grid(["a"], 0)
    fusions = candidate_fusions(["a", "b"], step=0.5, rrf_ks=(60,))
    assert len(fusions) == 3 * 3 + 1  # RRF only with every weight > 0


def test_score_fusion_by_hand():
    rankings, qrels = split("q", 3)
    # 'good' alone puts the relevant doc at rank 2: nDCG@10 = 1/log2(3)
    only_good = LinearFusion({"good": 1.0, "bad": 0.0})
    assert score_fusion(only_good, rankings, qrels) == pytest.approx(1 / 1.5849625007)


def test_tune_picks_the_rewarded_setting_and_reports_held_out():
    train, train_qrels = split("tr", 6)
    test, test_qrels = split("te", 4)
    bad_alone = LinearFusion({"good": 0.0, "bad": 1.0})
    result = tune_and_report(train, train_qrels, test, test_qrels, default=bad_alone)
    assert not result.kept_default and result.gain > 0
    assert result.train_score == max(score for _, score in result.tried)
    assert result.best.weights["good"] > result.best.weights["bad"]
    assert result.test_score == pytest.approx(score_fusion(result.best, test, test_qrels))
    assert result.default_test_score == pytest.approx(score_fusion(bad_alone, test, test_qrels))
    assert result.to_dict()["best"] == result.best.config()
    with pytest.raises(InputError, match="both the tuning and the reporting split"):
        tune_and_report(train, train_qrels, train, train_qrels, default=RRF())
    with pytest.raises(InputError, match="empty"):
        tune_fusion({}, {})


class Fixed:
    """A retriever with its own batched search (only `search_many` is ever called)."""

    def __init__(self, table):
        self.table = table
        self.batches = 0

    def search(self, query, k=10, where=None):
        raise AssertionError("the pipeline must use search_many")

    def search_many(self, queries, k=10, where=None):
        self.batches += 1
        return [[Hit(d, s, f"text {d}") for d, s in self.table[q][:k]] for q in queries]


def test_pipeline_search_many_uses_batched_retrievers_and_matches_fusion():
    dense = Fixed({"q": [("a", 0.9), ("b", 0.5)], "r": [("c", 0.1)]})
    bm25 = Fixed({"q": [("c", 7.0), ("b", 6.0)], "r": []})
    fused = Pipeline({"dense": dense, "bm25": bm25}, RRF(k=1))
    ranking, other = fused.search_many(["q", "r"], 2)
    # b: 1/3 + 1/3 beats a and c (1/2 each)
    assert [(h.id, h.score) for h in ranking] == [
        ("b", pytest.approx(2 / 3)),
        ("a", pytest.approx(0.5)),
    ]
    assert [h.id for h in other] == ["c"] and dense.batches == bm25.batches == 1
    assert ranking[0].stages["bm25"]["rank"] == 2


def test_hybrid_rerank_preset_needs_a_model(monkeypatch):
    monkeypatch.delenv("EMBEDSTACK_RERANKER", raising=False)
    with pytest.raises(InputError, match="EMBEDSTACK_RERANKER"):
        plan("hybrid+rerank", {})


def test_hybrid_preset_takes_its_own_params_and_passes_the_rest():
    hybrid = plan("hybrid", {"fusion": {"kind": "rrf", "k": 7}, "depth": 5, "k1": 0.9})
    assert hybrid.spec.fusion == {"kind": "rrf", "k": 7} and hybrid.spec.depth == 5
    assert hybrid.indexes == {"bm25": {"k1": 0.9}} and hybrid.retrievers == ["dense", "bm25"]
    with pytest.raises(InputError, match="unknown bm25 parameters"):
        plan("hybrid", {"bogus": 1})
    with pytest.raises(InputError, match="unknown dense parameters"):
        plan("dense", {"k1": 1.0})


def test_tune_on_dataset_reuses_the_eval_collection(tmp_path):
    train = load_beir(DATA / "beir_tiny", "train")
    test = load_beir(DATA / "beir_tiny", "test")
    options = EvalOptions(model="hash:64", cache_dir=tmp_path)
    result = tune_on_dataset(train, test, options, step=0.5)
    assert 0.0 <= result.test_score <= 1.0 and len(result.tried) == 3 * 3 + 6
    assert len(list((tmp_path / "collections").iterdir())) == 1
