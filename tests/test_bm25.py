from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from embedstack.errors import CollectionError, InputError
from embedstack.store.bm25 import BM25Index
from embedstack.text.analysis import Analyzer, EmptyQueryWarning

RAW = Analyzer(stopwords=None, stemmer=None)
DOCS = ["apple banana apple", "banana cherry", "cherry cherry cherry date"]


def scores_of(index: BM25Index, query: str) -> dict[int, float]:
    rows, scores = index.search(query, k=100)
    return dict(zip(rows.tolist(), scores.tolist(), strict=True))


def test_exact_scores_against_hand_computation():
    # N = 3, average length 3; df(apple) = 1, df(cherry) = 2.
    index = BM25Index.build(np.arange(3), DOCS, analyzer=RAW.config())
    idf_apple, idf_cherry = math.log(1 + 2.5 / 1.5), math.log(1 + 1.5 / 2.5)
    expected = {
        0: idf_apple * 2 / (1.5 * 1.0 + 2),  # tf 2, length 3: norm 1
        1: idf_cherry * 1 / (1.5 * 0.75 + 1),  # tf 1, length 2: norm 0.25 + 0.75 * 2/3
        2: idf_cherry * 3 / (1.5 * 1.25 + 3),  # tf 3, length 4: norm 0.25 + 0.75 * 4/3
    }
    got = scores_of(index, "apple cherry")
    assert got.keys() == expected.keys()
    for row, value in expected.items():
        assert got[row] == pytest.approx(value, rel=1e-6)
    assert list(index.search("apple cherry", k=3)[0]) == [0, 2, 1]


def test_bm25_plus_and_bm25l_hand_values():
    plus = BM25Index.build(np.arange(3), DOCS, analyzer=RAW.config(), variant="bm25+")
    assert scores_of(plus, "apple")[0] == pytest.approx(math.log(4) * (5 / 3.5 + 0.5), 1e-6)
    bm25l = BM25Index.build(np.arange(3), DOCS, analyzer=RAW.config(), variant="bm25l")
    # c = tf / norm = 2; tfc = (k1 + 1)(c + delta) / (k1 + c + delta)
    assert scores_of(bm25l, "apple")[0] == pytest.approx(math.log(4 / 1.5) * 6.25 / 4, 1e-6)


WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "the",
    "of",
]
QUERIES = ["alpha beta", "gamma gamma zeta", "theta", "kappa alpha iota eta", "the of"]


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9)))


@pytest.mark.parametrize("variant", ["lucene", "bm25+", "bm25l"])
@pytest.mark.parametrize("seed", range(6))
def test_random_updates_equal_a_fresh_build(variant, seed, tmp_path):
    rng = random.Random(seed)
    index = BM25Index(variant=variant)
    truth: dict[int, str] = {}
    for step in range(40):
        op = rng.random()
        if op < 0.5 or not truth:
            new_rows = rng.sample(range(200), rng.randint(1, 12))
            new_rows = [r for r in new_rows if r not in truth]
            texts = [random_text(rng) for _ in new_rows]
            index.add(np.array(new_rows, dtype=np.int64), texts)
            truth.update(zip(new_rows, texts, strict=True))
        elif op < 0.8:
            gone = rng.sample(sorted(truth), rng.randint(1, min(8, len(truth))))
            index.delete(np.array(gone))
            for row in gone:
                del truth[row]
        else:
            rows = [*rng.sample(sorted(truth), min(3, len(truth))), 300 + step]
            texts = [random_text(rng) for _ in rows]
            index.upsert(np.array(rows), texts)
            truth.update(zip(rows, texts, strict=True))
        if step % 13 == 12:  # survive a save / load in the middle of the sequence
            index.save(tmp_path)
            index = BM25Index.load(tmp_path, index.config())
        rows = np.array(sorted(truth), dtype=np.int64)
        fresh = BM25Index.build(rows, [truth[r] for r in rows], variant=variant)
        assert len(index) == len(fresh) == len(truth)
        assert index.total_len == fresh.total_len
        for query in QUERIES[:4]:
            got, want = index.score_all(query), fresh.score_all(query)
            if want is None:
                assert got is None or not got.any()
                continue
            np.testing.assert_allclose(got[rows], want[rows], rtol=1e-12)
            assert not np.delete(got, rows).any()
            assert [r.tolist() for r in index.search(query, 5)[:1]] == [
                r.tolist() for r in fresh.search(query, 5)[:1]
            ]


def test_updates_do_not_rewrite_existing_segments():
    index = BM25Index()
    index.add(np.arange(1000), [f"alpha beta gamma {i}" for i in range(1000)])
    big = index.postings.segments[0]
    index.add(np.arange(1000, 1010), ["delta epsilon"] * 10)
    index.delete(np.array([3, 1004]))
    assert index.postings.segments[0] is big
    assert len(index.postings.segments) == 2
    index.compact()
    assert len(index.postings.segments) == 1 and len(index) == 1008


@pytest.mark.parametrize("method", ["lucene", "bm25+", "bm25l"])
def test_parity_with_bm25s(method):
    bm25s = pytest.importorskip("bm25s")
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(40)] + ["running", "runs", "the", "and"]
    corpus = [" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 30))) for _ in range(60)]
    ours = BM25Index.build(np.arange(60), corpus, variant=method)
    analyzer = ours.analyzer
    reference = bm25s.BM25(method=method, k1=1.5, b=0.75, delta=0.5)
    reference.index([analyzer.terms(t) for t in corpus], show_progress=False)
    for query in ["w1 w2 running", "w3 w3 w39", "runs the w17 w5 w8"]:
        terms = analyzer.terms(query)
        expected = reference.get_scores(terms).astype(np.float64)
        if reference.nonoccurrence_array is not None:
            # bm25s also credits query terms missing from a document; we do not.
            ids = np.array(reference.get_tokens_ids(terms))
            matrix = np.zeros((60, len(ids)))
            for j, term in enumerate(terms):
                matrix[:, j] = [term not in analyzer.terms(t) for t in corpus]
            expected -= matrix @ reference.nonoccurrence_array[ids]
        np.testing.assert_allclose(ours.score_all(query)[:60], expected, rtol=2e-5, atol=2e-6)


def test_empty_and_stopword_queries_warn_and_return_nothing():
    index = BM25Index.build(np.arange(3), DOCS)
    for query in ["", "   ", "the and of", "!!"]:
        with pytest.warns(EmptyQueryWarning):
            rows, scores = index.search(query, k=5)
        assert len(rows) == len(scores) == 0
    rows, _ = index.search("unseenword", k=5)  # no match is not a warning
    assert len(rows) == 0
    empty = BM25Index()
    assert len(empty.search("apple", k=5)[0]) == 0


def test_allowed_rows_filter():
    index = BM25Index.build(np.arange(3), DOCS, analyzer=RAW.config())
    rows, _ = index.search("cherry", 5, allowed=np.array([0, 1]))
    assert rows.tolist() == [1]
    rows, _ = index.search("cherry", 5, allowed=np.array([False, False, True]))
    assert rows.tolist() == [2]


def test_bad_updates_say_what_is_wrong():
    index = BM25Index.build(np.arange(3), DOCS)
    with pytest.raises(InputError, match=r"rows \[7\] are not in the index; nothing was deleted"):
        index.delete(np.array([1, 7]))
    assert len(index) == 3
    with pytest.raises(InputError, match="use upsert"):
        index.add(np.array([2]), ["again"])
    with pytest.raises(InputError, match="2 rows but 1 texts"):
        index.add(np.array([5, 6]), ["one"])
    with pytest.raises(InputError, match="k must be"):
        index.search("apple", 0)


def test_save_load_round_trip_memory_maps_segments(tmp_path):
    index = BM25Index.build(np.arange(3), DOCS, variant="bm25l", k1=1.2)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path, index.config())
    assert isinstance(loaded.postings.segments[0].rows, np.memmap)
    assert loaded.config() == index.config()
    np.testing.assert_array_equal(loaded.score_all("cherry apple"), index.score_all("cherry apple"))
    meta = json.loads((tmp_path / "bm25.json").read_text())
    assert meta["config"]["variant"] == "bm25l"
    # updates after a load work on the memory-mapped data and saving drops stale segments
    loaded.delete(np.array([0, 1]))
    loaded.add(np.array([9]), ["apple"])
    loaded.compact()
    loaded.save(tmp_path)
    names = {p.name.split(".")[1] for p in tmp_path.glob("bm25.seg*.npy")}
    assert len(names) == 1
    assert BM25Index.load(tmp_path).search("apple", 3)[0].tolist() == [9]


@pytest.mark.parametrize(
    ("victim", "damage"),
    [
        ("bm25.json", "delete"),
        ("bm25.json", "garble"),
        ("bm25.df.npy", "delete"),
        ("bm25.df.npy", "garble"),
        ("bm25.terms.json", "garble"),
        ("bm25.generation.npy", "delete"),
        ("segment", "delete"),
        ("segment", "garble"),
    ],
)
def test_missing_or_corrupt_files_name_the_file_and_the_fix(tmp_path, victim, damage):
    BM25Index.build(np.arange(3), DOCS).save(tmp_path)
    path = next(tmp_path.glob("bm25.seg*.rows.npy")) if victim == "segment" else tmp_path / victim
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(b"\x93NUMPY garbage" if path.suffix == ".npy" else b"{not json")
    with pytest.raises(CollectionError) as info:
        BM25Index.load(tmp_path)
    assert path.name in str(info.value)
    assert "embedstack index" in str(info.value)


def test_loading_with_different_settings_is_refused(tmp_path):
    BM25Index.build(np.arange(3), DOCS).save(tmp_path)
    with pytest.raises(CollectionError, match="Rebuild"):
        BM25Index.load(tmp_path, {"variant": "bm25+"})


def test_ties_at_the_cutoff_go_to_the_smaller_row_id():
    index = BM25Index()
    index.add(np.arange(20, 0, -1), ["apple"] * 20)
    index.add(np.array([40]), ["pear"])
    rows, scores = index.search("apple", 4)
    assert rows.tolist() == [1, 2, 3, 4]
    assert len(set(scores.tolist())) == 1
