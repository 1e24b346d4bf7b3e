from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.eval.datasets import load_beir, load_sts
from embedstack.eval.options import EvalOptions
from embedstack.eval.runner import evaluate_retrieval, evaluate_sts, metric_names

from .conftest import DATA


class CountingEncoder(HashEncoder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen = 0

    def encode_batch(self, texts, kind):  # type: ignore[no-untyped-def]
        self.seen += len(texts)
        return super().encode_batch(texts, kind)


def test_dense_preset_ranks_by_cosine(tmp_path: Path) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    result = evaluate_retrieval(dataset, "dense", EvalOptions(model="hash", cache_dir=tmp_path))
    encoder = HashEncoder()
    qid = next(iter(dataset.queries))
    docs = dataset.doc_texts()
    cosines = {
        d: float(v @ encoder.encode([dataset.queries[qid]], "query")[0])
        / (np.linalg.norm(v) * np.linalg.norm(encoder.encode([dataset.queries[qid]], "query")[0]))
        for d, v in zip(docs, encoder.encode(list(docs.values()), "document"), strict=True)
    }
    best = sorted(cosines, key=lambda d: (-cosines[d], list(docs).index(d)))
    assert [h.id for h in result.ranked[qid]][:3] == best[:3]
    assert result.ranked[qid][0].score == pytest.approx(cosines[best[0]], abs=1e-5)
    assert result.memory_bytes == len(docs) * 256 * 4


def test_unknown_preset_lists_available(tmp_path: Path) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    with pytest.raises(InputError, match=r"unknown retriever preset 'nope'; available: .*dense"):
        evaluate_retrieval(dataset, "nope", EvalOptions(model="hash", cache_dir=tmp_path))


def test_second_run_embeds_nothing(tmp_path: Path) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    encoder = CountingEncoder()
    options = EvalOptions(cache_dir=tmp_path / "cache", loaded=encoder)
    first = evaluate_retrieval(dataset, "dense", options)
    assert first.embedded == 12 + 6 and encoder.seen == 18
    again = evaluate_retrieval(
        dataset, "dense", EvalOptions(cache_dir=tmp_path / "cache", loaded=encoder),
        metric_names([3]),
    )  # fmt: skip
    assert encoder.seen == 18  # nothing re-embedded, even with other cut-offs
    assert (again.embedded, again.from_cache) == (0, 18)
    assert again.metrics["ndcg@10"] == first.metrics["ndcg@10"]
    # another preset over the same corpus and space reuses the indexed corpus
    hybrid = evaluate_retrieval(
        dataset, "hybrid", EvalOptions(cache_dir=tmp_path / "cache", loaded=encoder)
    )
    assert encoder.seen == 18 and hybrid.embedded == 0
    collections = list((tmp_path / "cache" / "collections").iterdir())
    assert len(collections) == 1  # one corpus, one space: one collection


def test_no_cache_builds_in_a_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = load_beir(DATA / "beir_tiny")
    encoder = CountingEncoder()
    options = EvalOptions(cache=False, cache_dir=tmp_path / "cache", loaded=encoder)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    first = evaluate_retrieval(dataset, "dense", options)
    evaluate_retrieval(dataset, "dense", EvalOptions(cache=False, loaded=encoder))
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary corpus is removed
    assert encoder.seen == 2 * 18 and first.embedded == 18 and first.from_cache == 0
    assert not (tmp_path / "cache").exists()


def test_metric_names_reject_bad_k() -> None:
    assert "ndcg@5" in metric_names([5])
    with pytest.raises(InputError):
        metric_names([0])


def test_sts_correlation_on_hash_encoder() -> None:
    result = evaluate_sts(load_sts(DATA / "sts_tiny.tsv"), HashEncoder())
    progress: list[tuple[str, int, int | None]] = []
    again = evaluate_sts(
        load_sts(DATA / "sts_tiny.tsv"), HashEncoder(), progress=lambda *a: progress.append(a)
    )
    assert again.spearman == result.spearman and progress[-1] == ("embedding sentences", 12, 12)
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
