import numpy as np
import pytest

from embedstack.errors import InputError
from embedstack.search.fusion import (
    RRF,
    LinearFusion,
    fusion_from_config,
    linear,
    normalise_scores,
    rrf,
)
from embedstack.types import Hit


def hits(*pairs):
    return [Hit(doc_id, score, text=f"text {doc_id}") for doc_id, score in pairs]


RANKINGS = {
    "dense": hits(("a", 0.9), ("b", 0.8), ("c", 0.5)),
    "bm25": hits(("c", 12.0), ("d", 6.0), ("a", 3.0)),
}


def test_rrf_by_hand():
    fused = rrf(RANKINGS, k=1)
    scores = {h.id: h.score for h in fused}
    # a: 1/(1+1) + 1/(1+3); b: 1/(1+2); c: 1/(1+3) + 1/(1+1); d: 1/(1+2)
    assert scores == pytest.approx({"a": 0.75, "b": 1 / 3, "c": 0.75, "d": 1 / 3})
    # ties: best single rank first (a and c both have rank 1) then id
    assert [h.id for h in fused] == ["a", "c", "b", "d"]
    a = fused[0]
    assert a.stages["dense"] == {"score": 0.9, "rank": 1}
    assert a.stages["bm25"] == {"score": 3.0, "rank": 3}
    assert a.stages["fusion"] == {"score": pytest.approx(0.75), "rank": 1}
    assert a.text == "text a"


def test_rrf_weights_and_limit():
    fused = rrf(RANKINGS, k=60, weights={"dense": 3.0, "bm25": 1.0}, limit=2)
    scores = {h.id: h.score for h in fused}
    # b (dense rank 2 only): 3/62 = 0.048 < c: 3/63 + 1/61 = 0.064
    assert scores == pytest.approx({"a": 3 / 61 + 1 / 63, "c": 3 / 63 + 1 / 61})
    assert [h.id for h in fused] == ["a", "c"]


def test_normalisations_by_hand():
    s = [4.0, 2.0, 0.0]
    np.testing.assert_allclose(normalise_scores(s, "minmax"), [1.0, 0.5, 0.0])
    std = np.std(s)  # sqrt(8/3)
    np.testing.assert_allclose(normalise_scores(s, "zscore"), [2 / std, 0.0, -2 / std])
    # dbsf: (s - (mean - 3 std)) / (6 std), clipped to [0, 1]
    expected = [(x - (2 - 3 * std)) / (6 * std) for x in s]
    np.testing.assert_allclose(normalise_scores(s, "dbsf"), expected)
    np.testing.assert_allclose(normalise_scores([5.0, 5.0], "minmax"), [1.0, 1.0])
    np.testing.assert_allclose(normalise_scores([5.0, 5.0], "zscore"), [0.0, 0.0])
    np.testing.assert_allclose(normalise_scores([5.0, 5.0], "dbsf"), [0.5, 0.5])
    assert normalise_scores([], "minmax").size == 0


def test_dbsf_clips_outliers():
    values = [100.0] + [1.0] * 20
    norm = normalise_scores(values, "dbsf")
    assert norm[0] == 1.0
    # the outlier is clipped, so the rest keep a usable spread instead of collapsing to 0
    mean, std = np.mean(values), np.std(values)
    assert mean + 3 * std < 100.0
    assert norm[1] == pytest.approx((1.0 - (mean - 3 * std)) / (6 * std))
    assert normalise_scores(values, "minmax")[1] == 0.0


def test_linear_minmax_by_hand():
    fused = linear(RANKINGS, {"dense": 0.75, "bm25": 0.25}, "minmax")
    scores = {h.id: h.score for h in fused}
    # dense minmax: a 1, b 0.75, c 0; bm25 minmax: c 1, d 1/3, a 0; missing -> 0
    assert scores == pytest.approx({"a": 0.75, "b": 0.75 * 0.75, "c": 0.25, "d": 0.25 / 3})
    assert [h.id for h in fused] == ["a", "b", "c", "d"]
    assert fused[1].stages["dense"]["normalized"] == pytest.approx(0.75)
    assert "bm25" not in fused[1].stages


def test_linear_weights_are_a_convex_combination():
    unscaled = linear(RANKINGS, {"dense": 3, "bm25": 1})
    scaled = linear(RANKINGS, {"dense": 0.75, "bm25": 0.25})
    assert [h.score for h in unscaled] == pytest.approx([h.score for h in scaled])


def test_linear_zscore_missing_counts_as_average():
    rankings = {"x": hits(("a", 3.0), ("b", 1.0)), "y": hits(("c", 2.0), ("a", 0.0))}
    fused = {h.id: h.score for h in linear(rankings, normalization="zscore")}
    # x: a +1, b -1 ; y: c +1, a -1 ; b missing in y -> 0 ; c missing in x -> 0
    assert fused == pytest.approx({"a": 0.0, "b": -0.5, "c": 0.5})


def test_a_retriever_returning_nothing_does_not_break_fusion():
    rankings = {"dense": hits(("a", 0.9), ("b", 0.1)), "bm25": []}
    for fused in (rrf(rankings), linear(rankings, normalization="dbsf")):
        assert [h.id for h in fused] == ["a", "b"]
    assert rrf({"dense": [], "bm25": []}) == []


def test_bad_input_is_rejected_clearly():
    with pytest.raises(InputError, match="RRF k must be > 0"):
        rrf(RANKINGS, k=0)
    with pytest.raises(InputError, match="RRF k must be > 0"):
        RRF(k=-5)
    with pytest.raises(InputError, match="unknown retrievers \\['splade'\\]"):
        rrf(RANKINGS, weights={"dense": 1, "splade": 1})
    with pytest.raises(InputError, match="sum to something positive"):
        linear(RANKINGS, {"dense": 0, "bm25": 0})
    with pytest.raises(InputError, match=">= 0"):
        linear(RANKINGS, {"dense": -1, "bm25": 2})
    with pytest.raises(InputError, match="positive number of results"):
        linear(RANKINGS, limit=0)
    with pytest.raises(InputError, match="unknown normalization 'l2'"):
        LinearFusion(normalization="l2")
    with pytest.raises(InputError, match="twice"):
        rrf({"dense": hits(("a", 1), ("a", 0.5))})


def test_config_round_trip():
    for stage in (
        RRF(k=10, weights={"dense": 2.0, "bm25": 1.0}),
        LinearFusion({"dense": 0.7}, "dbsf"),
    ):
        again = fusion_from_config(stage.config())
        assert again == stage
    with pytest.raises(InputError, match="unknown fusion kind"):
        fusion_from_config({"kind": "borda"})
