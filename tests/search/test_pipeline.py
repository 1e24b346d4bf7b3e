"""Pipeline over a real collection (hashing encoder + BM25): stages, explain, save/load."""

from __future__ import annotations

import json
import warnings

import pytest

from embedstack.errors import CollectionError, InputError
from embedstack.search.fusion import RRF, LinearFusion, linear, rrf
from embedstack.search.pipeline import Pipeline, default_fusion
from embedstack.search.retrievers import DenseRetriever, IndexRetriever
from embedstack.search.spec import PipelineSpec, store_tuned_fusion
from embedstack.store.collection import Collection
from embedstack.text.analysis import EmptyQueryWarning
from embedstack.types import Hit

TEXTS = [
    "the cat sat on the mat",
    "dogs ran fast along the river",
    "a big red house by the river",
    "vector search with a small model",
    "the quick brown fox jumps over the lazy dog",
    "search engines rank documents by relevance",
]


@pytest.fixture
def collection(tmp_path):
    col = Collection.create(tmp_path / "col", "hash:64", indexes=("bm25",))
    col.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))], metadata=[{"n": i} for i in range(6)])
    return col


class Empty:
    name = "empty"

    def search(self, query, k=10, where=None):
        return []


def test_hybrid_search_keeps_every_stage(collection):
    pipe = Pipeline([DenseRetriever(collection), IndexRetriever(collection, "bm25")])
    assert isinstance(pipe.fusion, LinearFusion)
    assert pipe.fusion == default_fusion(["dense", "bm25"])
    query = "river search"
    hits = pipe.search(query, k=4)
    dense = collection.search(query, k=100)
    bm25 = collection.search(query, k=100, retriever="bm25")
    expected = pipe.fusion.fuse({"dense": dense, "bm25": bm25}, limit=4)
    assert [h.id for h in hits] == [h.id for h in expected]
    assert [h.score for h in hits] == pytest.approx([h.score for h in expected])
    for rank, hit in enumerate(hits, start=1):
        assert hit.stages["fusion"]["rank"] == rank
        assert hit.stages["dense"]["rank"] == 1 + [h.id for h in dense].index(hit.id)
        if hit.id in {h.id for h in bm25}:
            assert hit.stages["bm25"]["score"] > 0
        assert hit.text == TEXTS[int(hit.id[1:])]
    assert set(pipe.last_timings) == {"dense", "bm25", "fusion"}
    explanation = pipe.explain(query, k=3)
    assert explanation.stages == ["dense", "bm25", "fusion"]
    row = explanation.rows()[0]
    assert row["rank"] == 1 and row["fusion"]["rank"] == 1 and row["dense"] is not None
    json.dumps(explanation.to_dict())


def test_where_filter_and_single_retriever(collection):
    pipe = Pipeline([DenseRetriever(collection)])
    assert pipe.fusion is None and pipe.stages == ["dense"]
    hits = pipe.search("river", k=2, where={"n": {"$gte": 3}})
    assert hits and all(h.metadata["n"] >= 3 for h in hits)


def test_a_retriever_returning_nothing(collection):
    pipe = Pipeline({"dense": DenseRetriever(collection), "empty": Empty()}, RRF(k=60))
    hits = pipe.search("river", k=3)
    assert [h.id for h in hits] == [
        h.id for h in rrf({"dense": collection.search("river", 100), "empty": []}, limit=3)
    ]


def test_bad_configuration_is_rejected(collection):
    dense = DenseRetriever(collection)
    with pytest.raises(InputError, match=r"unknown retrievers \['splade'\]"):
        Pipeline([dense, IndexRetriever(collection, "bm25")], LinearFusion({"splade": 1.0}))
    with pytest.raises(InputError, match="sum to something positive"):
        Pipeline([dense, IndexRetriever(collection, "bm25")], RRF(weights={"dense": 0, "bm25": 0}))
    with pytest.raises(InputError, match="positive number of results"):
        Pipeline([dense]).search("x", k=0)
    with pytest.raises(InputError, match="two retrievers are named 'dense'"):
        Pipeline([dense, dense])
    with pytest.raises(CollectionError, match="no 'splade' index"):
        Pipeline.from_spec(collection, "splade")
    with pytest.raises(InputError, match="needs a reranker"):
        Pipeline.from_spec(collection, "hybrid+rerank")
    with pytest.raises(InputError, match="comes last"):
        Pipeline.from_spec(collection, "rerank+bm25")
    with pytest.raises(InputError, match="names 'bm25' twice"):
        Pipeline.from_spec(collection, "hybrid+bm25")


def test_save_load_round_trip(collection, tmp_path):
    pipe = Pipeline(
        [DenseRetriever(collection), IndexRetriever(collection, "bm25")],
        LinearFusion({"dense": 0.3, "bm25": 0.7}, "zscore"),
        depth=20,
    )
    pipe.save(tmp_path / "pipe")
    assert sorted(p.name for p in (tmp_path / "pipe").iterdir()) == ["fusion.json", "pipeline.json"]
    again = Pipeline.load(tmp_path / "pipe", collection)
    assert again.fusion == pipe.fusion and again.depth == 20
    for query in ("river", "search model", "cat"):
        assert [(h.id, h.score) for h in again.search(query, 5)] == [
            (h.id, h.score) for h in pipe.search(query, 5)
        ]
    with pytest.raises(InputError, match="cannot be saved"):
        Pipeline({"dense": DenseRetriever(collection), "empty": Empty()}).save(tmp_path / "x")


def test_hybrid_preset_uses_tuned_fusion_when_present(collection):
    default = Pipeline.from_spec(collection, "hybrid")
    assert default.fusion == default_fusion(["dense", "bm25"])
    legacy = RRF(k=9)
    (collection.path / "fusion.json").write_text(json.dumps(legacy.config()))
    assert Pipeline.from_spec(collection, "hybrid").fusion == legacy  # older versions' file
    tuned = RRF(k=5, weights={"dense": 1.0, "bm25": 2.0})
    store_tuned_fusion(collection, tuned)
    assert collection.get_setting("fusion") == tuned.config()
    assert Pipeline.from_spec(Collection.open(collection.path), "hybrid").fusion == tuned
    given = RRF(k=60)
    assert Pipeline.from_spec(collection, "hybrid", fusion=given).fusion == given
    assert Pipeline.from_spec(collection, "bm25").stages == ["bm25"]
    assert Pipeline.from_spec(collection, "bm25").fusion is None


def test_from_spec_is_what_the_names_say(collection):
    hybrid = Pipeline.from_spec(collection, "hybrid")
    assert list(hybrid.retrievers) == ["dense", "bm25"] and hybrid.reranker is None
    same = Pipeline.from_spec(collection, "dense+bm25")
    assert [h.id for h in same.search("river", 4)] == [h.id for h in hybrid.search("river", 4)]
    reranked = Pipeline.from_spec(collection, "bm25+rerank", reranker=Reverse(), rerank_depth=3)
    assert reranked.stages == ["bm25", "rerank"] and reranked.rerank_depth == 3
    # a reranker given without "+rerank" is applied too (search --retriever dense --rerank)
    assert Pipeline.from_spec(collection, "dense", reranker=Reverse()).stages == [
        "dense",
        "rerank",
    ]
    spec = PipelineSpec("hybrid", depth=7)
    assert Pipeline.from_spec(collection, spec).depth == 7


def test_search_many_equals_search_for_every_query(collection):
    queries = ["river", "search model", "cat", "", "zzz unknown"]
    for name in ("dense", "bm25", "hybrid"):
        pipe = Pipeline.from_spec(collection, name)
        with pytest.warns(EmptyQueryWarning):
            batched = pipe.search_many(queries, 3)
        for query, hits in zip(queries, batched, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EmptyQueryWarning)
                one = pipe.search(query, 3)
            assert [(h.id, h.score) for h in hits] == [(h.id, h.score) for h in one]
    assert DenseRetriever(collection).search_many([], 3) == []


class Reverse:
    """A stand-in reranker that reverses the order, to check the plumbing only."""

    stage = "rerank"

    def rerank(self, query, hits, k=None):
        from embedstack.search.rerank import apply_scores

        return apply_scores(hits, [float(i) for i in range(len(hits))], self.stage, k)

    def config(self):
        return {"kind": "reverse"}


def test_reranker_sees_rerank_depth_and_keeps_stages(collection):
    pipe = Pipeline(
        [DenseRetriever(collection), IndexRetriever(collection, "bm25")],
        reranker=Reverse(),
        rerank_depth=4,
    )
    hits = pipe.search("river search", k=2)
    fused = linear(
        {
            "dense": collection.search("river search", 100),
            "bm25": collection.search("river search", 100, retriever="bm25"),
        },
        pipe.fusion.weights,
        pipe.fusion.normalization,
        limit=4,
    )
    assert [h.id for h in hits] == [fused[3].id, fused[2].id]
    assert hits[0].stages["fusion"]["rank"] == 4 and hits[0].stages["rerank"]["rank"] == 1
    assert pipe.stages == ["dense", "bm25", "fusion", "rerank"]
    assert "rerank" in pipe.last_timings
    assert isinstance(hits[0], Hit)
