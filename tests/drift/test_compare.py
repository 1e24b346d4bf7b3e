import json
from importlib import resources

import numpy as np
import pytest
from drift_data import DIM, SPACE, draw, rotation

from embedstack.drift import Thresholds, compare, compare_spaces, profile
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError, SpaceMismatchError
from embedstack.types import EmbeddingSpace

SEEDS = range(20)


def test_false_positive_rate_over_20_seeds_is_at_most_5_percent():
    flagged = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        prof = profile(draw(rng, 300), SPACE, seed=seed)
        report = compare(prof, draw(rng, 120), SPACE, seed=seed)
        flagged.append(report.drift)
    assert sum(flagged) / len(flagged) <= 0.05, flagged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotation_is_flagged(seed):
    rng = np.random.default_rng(100 + seed)
    prof = profile(draw(rng, 300), SPACE, seed=seed)
    report = compare(prof, draw(rng, 120) @ rotation(rng), SPACE, seed=seed)
    assert report.drift
    assert any("MMD" in r for r in report.reasons)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_shift_is_flagged(seed):
    rng = np.random.default_rng(200 + seed)
    prof = profile(draw(rng, 300), SPACE, seed=seed)
    shift = np.full(DIM, 1.0 / np.sqrt(DIM), dtype=np.float32)  # a unit step
    report = compare(prof, draw(rng, 120) + shift, SPACE, seed=seed)
    assert report.drift
    assert any("centroid moved" in r for r in report.reasons)
    assert report.metrics["centroid_cosine_shift"] > 0


def test_outliers_alone_are_flagged():
    rng = np.random.default_rng(7)
    prof = profile(draw(rng, 300), SPACE)
    new = draw(rng, 120)
    new[:30] += rng.standard_normal((30, DIM)).astype(np.float32) * 4  # 25% far away
    report = compare(prof, new, SPACE)
    assert report.drift
    assert report.metrics["outlier_rate"] > 0.2
    assert any("outliers" in r for r in report.reasons)


def _demo_texts() -> list[str]:
    corpus = resources.files("embedstack") / "data" / "demo" / "corpus.jsonl"
    return [json.loads(line)["text"] for line in corpus.read_text().splitlines() if line]


def _jsonl_texts(path) -> list[str]:
    return [json.loads(line)["text"] for line in open(path, encoding="utf-8") if line.strip()]


@pytest.mark.parametrize("other", ["dedup_captions.jsonl", "eval/beir_tiny/corpus.jsonl"])
def test_corpus_on_another_topic_is_flagged(other, request):
    enc = HashEncoder(256)
    prof = profile(enc.encode(_demo_texts()), enc.space)
    texts = _jsonl_texts(request.path.parent.parent / "data" / other)[:40]
    report = compare(prof, enc.encode(texts), enc.space)
    assert report.drift, report.metrics


def test_same_corpus_split_is_not_flagged():
    enc = HashEncoder(256)
    texts = _demo_texts()
    order = np.random.default_rng(0).permutation(len(texts))
    halves = [[texts[i] for i in order[:20]], [texts[i] for i in order[20:]]]
    report = compare(profile(enc.encode(halves[0]), enc.space), enc.encode(halves[1]), enc.space)
    assert not report.drift, report.reasons


@pytest.mark.model
def test_minilm_flags_captions_against_the_demo_corpus(request):
    from embedstack.registry import load_encoder

    enc = load_encoder("minilm")
    prof = profile(enc.encode(_demo_texts()), enc.space)
    captions = _jsonl_texts(request.path.parent.parent / "data" / "dedup_captions.jsonl")[:40]
    assert compare(prof, enc.encode(captions), enc.space).drift
    same = compare(prof, enc.encode(_demo_texts()[::2]), enc.space)
    assert not same.drift, same.reasons


def test_space_mismatch_is_refused_with_the_field_diff():
    rng = np.random.default_rng(0)
    prof = profile(draw(rng, 50), SPACE)
    other = EmbeddingSpace(model="synthetic:24", dim=DIM, normalize=False, pooling="cls")
    with pytest.raises(SpaceMismatchError, match="pooling: '' != 'cls'"):
        compare(prof, draw(rng, 20), other)


def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    prof = profile(draw(rng, 50), SPACE)
    with pytest.raises(InputError, match="at least 5"):
        compare(prof, draw(rng, 3), SPACE)
    with pytest.raises(InputError, match="dimension 3"):
        compare(prof, np.zeros((10, 3)), SPACE)
    with pytest.raises(InputError, match="NaN"):
        compare(prof, np.full((10, DIM), np.nan), SPACE)
    with pytest.raises(InputError, match="at least 3"):
        profile(draw(rng, 2), SPACE)
    with pytest.raises(InputError, match="permutations"):
        Thresholds(alpha=0.05, permutations=20)


def test_compare_spaces_same_and_different_encoders():
    rng = np.random.default_rng(3)
    a = draw(rng, 200)
    same = compare_spaces(a, a @ rotation(rng), queries_a=a[:20], queries_b=a[:20] @ np.eye(DIM))
    # A rotation keeps every cosine: the same neighbourhoods, not drift. (The query
    # vectors of B are not rotated, so top-10 agreement drops: that is flagged.)
    assert same.metrics["overlap@10"] == pytest.approx(1.0)
    assert same.metrics["similarity_spearman"] == pytest.approx(1.0)
    assert same.reasons == [
        f"search results changed: top-10 agreement {same.metrics['top10_agreement']:.2f} < 0.6"
    ]
    unrelated = compare_spaces(a, rng.standard_normal((200, 8)))
    assert unrelated.drift
    assert unrelated.metrics["overlap@10"] < 0.3
    assert abs(unrelated.metrics["similarity_spearman"]) < 0.3
    with pytest.raises(InputError, match="same texts"):
        compare_spaces(a, a[:50])
