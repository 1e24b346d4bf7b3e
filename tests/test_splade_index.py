from __future__ import annotations

import json
import random
import zlib

import numpy as np
import pytest

from embedstack.encoders import SparseEncoder
from embedstack.errors import CollectionError, EmbedstackError, InputError, SpaceMismatchError
from embedstack.store.sparse import SpladeIndex
from embedstack.text.analysis import EmptyQueryWarning
from embedstack.types import EmbeddingSpace, Kind, SparseVector

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]


class WordWeights(SparseEncoder):
    """A stand-in sparse encoder: each word id weighted by count and a fixed factor."""

    def __init__(self, fingerprint: str = "fake") -> None:
        self.space = EmbeddingSpace(model="words", dim=len(WORDS), fingerprint=fingerprint)

    def encode_batch(self, texts: list[str], kind: Kind) -> list[SparseVector]:
        out = []
        for text in texts:
            ids = [WORDS.index(w) for w in text.split() if w in WORDS]
            counts = np.bincount(np.array(ids, dtype=np.int64), minlength=len(WORDS))
            factor = 1 + (zlib.crc32(kind.value.encode()) % 7) / 10
            weights = counts * factor * (1 + np.arange(len(WORDS)) / 10)
            idx = np.flatnonzero(weights)
            out.append(SparseVector(idx.astype(np.int32), weights[idx].astype(np.float32)))
        return out


def brute_force(truth: dict[int, str], query: str) -> dict[int, float]:
    encoder = WordWeights()
    (q,) = encoder.encode([query], "query")
    scores = {}
    for row, text in truth.items():
        (d,) = encoder.encode([text], "document")
        if q.dot(d) > 0:
            scores[row] = q.dot(d)
    return scores


@pytest.mark.parametrize("seed", range(5))
def test_random_updates_score_like_brute_force_dot_products(seed, tmp_path):
    rng = random.Random(seed)
    index = SpladeIndex(WordWeights())
    truth: dict[int, str] = {}

    def text():
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))

    for step in range(30):
        op = rng.random()
        if op < 0.5 or not truth:
            rows = [r for r in rng.sample(range(100), rng.randint(1, 8)) if r not in truth]
            texts = [text() for _ in rows]
            index.add(np.array(rows, dtype=np.int64), texts)
            truth.update(zip(rows, texts, strict=True))
        elif op < 0.8:
            gone = rng.sample(sorted(truth), rng.randint(1, min(5, len(truth))))
            index.delete(np.array(gone))
            for row in gone:
                del truth[row]
        else:
            rows = rng.sample(sorted(truth), min(2, len(truth)))
            texts = [text() for _ in rows]
            index.upsert(np.array(rows), texts)
            truth.update(zip(rows, texts, strict=True))
        if step % 10 == 9:
            index.save(tmp_path)
            index = SpladeIndex.load(tmp_path, encoder=WordWeights())
        assert len(index) == len(truth)
        for query in ["alpha beta", "iota iota eta gamma"]:
            rows, scores = index.search(query, k=200)
            expected = brute_force(truth, query)
            assert set(rows.tolist()) == set(expected)
            for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
                assert score == pytest.approx(expected[row], rel=1e-5)


def test_empty_query_unknown_rows_and_filters():
    index = SpladeIndex(WordWeights())
    index.add(np.arange(3), ["alpha beta", "beta", "gamma"])
    with pytest.warns(EmptyQueryWarning):
        assert len(index.search("  ", 3)[0]) == 0
    with pytest.raises(InputError, match=r"rows \[9\] are not in the index"):
        index.delete(np.array([9]))
    assert index.search("beta", 3, allowed=np.array([1, 2]))[0].tolist() == [1]
    with pytest.raises(InputError, match="needs a model"):
        SpladeIndex()


def test_missing_files_and_changed_weights_refuse_to_load(tmp_path):
    index = SpladeIndex(WordWeights())
    index.add(np.arange(3), ["alpha beta", "beta", "gamma"])
    index.save(tmp_path)
    with pytest.raises(SpaceMismatchError, match="fingerprint: 'fake' != 'different'"):
        SpladeIndex.load(tmp_path, encoder=WordWeights("different"))
    assert len(SpladeIndex.load(tmp_path, encoder=WordWeights())) == 3
    next(tmp_path.glob("splade.seg*.values.npy")).unlink()
    with pytest.raises(CollectionError, match=r"values\.npy is missing.*embedstack index"):
        SpladeIndex.load(tmp_path, encoder=WordWeights())


def test_an_index_without_a_recorded_space_is_refused_with_the_rebuild_command(tmp_path):
    index = SpladeIndex(WordWeights())
    index.add(np.arange(2), ["alpha", "beta"])
    index.save(tmp_path)
    meta = json.loads((tmp_path / "splade.json").read_text())
    del meta["space"]  # as written by embedstack before indexes recorded their space
    meta["format"] = 1
    (tmp_path / "splade.json").write_text(json.dumps(meta))
    with pytest.raises(CollectionError, match=r"did not record its embedding space.*--rebuild"):
        SpladeIndex.load(tmp_path, encoder=WordWeights())


def test_the_sparse_contract_checks_what_an_encoder_returns():
    class Broken(WordWeights):
        def encode_batch(self, texts: list[str], kind: Kind) -> list[SparseVector]:
            return [SparseVector(np.array([0, 99], np.int32), np.ones(2, np.float32))]

    with pytest.raises(EmbedstackError, match="outside its vocabulary of 9"):
        Broken().encode(["alpha"])
    with pytest.raises(TypeError, match="not a single string"):
        WordWeights().encode("alpha beta")
    vectors = WordWeights().encode(["beta beta alpha", "", "gamma"], batch_size=2)
    assert [v.indices.tolist() for v in vectors] == [[0, 1], [], [2]]  # input order kept
