from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.eval.cache import VectorCache
from embedstack.eval.datasets import load_beir, load_sts
from embedstack.eval.runner import evaluate_retrieval, evaluate_sts, metric_names
from embedstack.search import presets
from embedstack.search.presets import PresetOptions

from .conftest import DATA


class CountingEncoder(HashEncoder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen = 0

    def encode_batch(self, texts, kind):  # type: ignore[no-untyped-def]
        self.seen += len(texts)
        return super().encode_batch(texts, kind)


def test_dense_preset_ranks_by_cosine() -> None:
    docs = {"a": "red apples", "b": "green pears", "c": "red apples and pears"}
    options = PresetOptions(model="hash")
    retriever = presets.build("dense", docs, options)
    (hits,) = retriever.search_many(["red apples"], k=2)
    assert [doc for doc, _ in hits] == ["a", "c"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert retriever.memory_bytes() == 3 * 256 * 4


def test_unknown_preset_lists_available() -> None:
    with pytest.raises(InputError, match=r"unknown retriever preset 'nope'; available: .*dense"):
        presets.build("nope", {"a": "x"}, PresetOptions(model="hash"))


def test_second_run_embeds_nothing(tmp_path: Path) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    encoder = CountingEncoder()
    cache = VectorCache(tmp_path / "cache")
    first = evaluate_retrieval(dataset, "dense", PresetOptions(cache=cache, loaded=encoder))
    assert first.embedded == 12 + 6 and encoder.seen == 18
    again = evaluate_retrieval(
        dataset, "dense", PresetOptions(cache=cache, loaded=encoder), metric_names([3])
    )
    assert encoder.seen == 18  # nothing re-embedded, even with other cut-offs
    assert (again.embedded, again.from_cache) == (0, 18)
    assert again.metrics["ndcg@10"] == first.metrics["ndcg@10"]


def test_cache_is_keyed_by_space(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    a = cache.embed(HashEncoder(32), ["same text"], "document")
    b = cache.embed(HashEncoder(64), ["same text"], "document")
    assert a.shape == (1, 32) and b.shape == (1, 64)
    assert cache.misses == 2
    np.testing.assert_array_equal(cache.embed(HashEncoder(32), ["same text"], "document"), a)
    assert cache.hits == 1


def test_cached_vectors_equal_fresh(tmp_path: Path) -> None:
    texts = ["one", "two", "one", "three"]
    cache = VectorCache(tmp_path)
    cache.embed(HashEncoder(), texts[:2], "query")
    mixed = cache.embed(HashEncoder(), texts, "query")
    assert cache.misses == 3  # "three" only on the second call; the duplicate "one" once
    np.testing.assert_allclose(mixed, HashEncoder().encode(texts, "query"), atol=1e-6)


def test_metric_names_reject_bad_k() -> None:
    assert "ndcg@5" in metric_names([5])
    with pytest.raises(InputError):
        metric_names([0])


def test_sts_correlation_on_hash_encoder() -> None:
    result = evaluate_sts(load_sts(DATA / "sts_tiny.tsv"), HashEncoder())
    assert result.pairs == 6
    assert -1 <= result.spearman <= 1
    assert result.spearman > 0  # word overlap tracks the gold scores on these pairs


class FailingEncoder(HashEncoder):
    """Fails on the second encode call, like a run killed half-way."""

    def __init__(self) -> None:
        super().__init__(dim=16)
        self.calls = 0

    def encode(self, texts, kind="document", batch_size=None, normalize=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().encode(texts, kind, batch_size, normalize)


def test_interrupted_run_keeps_finished_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedstack.eval.cache.CHUNK", 3)
    texts = [f"text {i}" for i in range(7)]
    cache = VectorCache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        cache.embed(FailingEncoder(), texts, "document")
    again = VectorCache(tmp_path)
    again.embed(HashEncoder(dim=16), texts, "document")
    assert (again.hits, again.misses) == (3, 4)


def test_digests_ending_in_zero_bytes_are_found_again(tmp_path: Path) -> None:
    from embedstack.eval.cache import text_digest

    texts = [t for t in (f"text {i}" for i in range(5000)) if text_digest(t).endswith(b"\0")][:3]
    assert texts  # about 1 in 256 digests ends with a zero byte
    VectorCache(tmp_path).embed(HashEncoder(16), texts, "document")
    again = VectorCache(tmp_path)
    again.embed(HashEncoder(16), texts, "document")
    assert (again.hits, again.misses) == (len(texts), 0)
