"""One behavioural suite for collections, run on both backends (`backend` fixture: a
folder for the embedded store, a `postgresql://` URL for PostgreSQL + pgvector)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from store_helpers import DOCS, CountingEncoder, fill

from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.search.pipeline import Pipeline
from embedstack.store.backend import CollectionBackend, collection_exists
from embedstack.store.collection import Collection
from embedstack.store.postgres import PostgresCollection
from embedstack.text.analysis import EmptyQueryWarning
from embedstack.types import Kind


def lexical(collection) -> str:
    """The collection's lexical index: BM25 embedded, full-text search on Postgres."""
    return "fts" if isinstance(collection, PostgresCollection) else "bm25"


def test_both_backends_offer_every_public_method_of_collection():
    public = {n for n in dir(Collection) if not n.startswith("_")}
    assert public <= set(dir(PostgresCollection)), public - set(dir(PostgresCollection))


def test_add_get_search_and_persistence(backend, counting_encoder):
    assert not collection_exists(backend)
    with Collection.create(backend, counting_encoder, indexes=()) as col:
        assert isinstance(col, CollectionBackend)
        assert fill(col) == list(DOCS)
        assert collection_exists(backend)
    with Collection.open(backend) as col:  # the encoder is rebuilt from the manifest
        assert len(col) == 5 and col.ids() == list(DOCS)
        assert col.manifest.model_spec == "hash:64" and col.space.dim == 64
        records = col.get(["dog", "missing", "cat"])
        assert [r.id for r in records] == ["dog", "cat"]
        assert records[1].text == DOCS["cat"][0] and records[1].metadata == DOCS["cat"][1]
        expected = counting_encoder.encode([DOCS["dog"][0]], kind=Kind.DOCUMENT)[0]
        np.testing.assert_allclose(records[0].vector, expected, atol=1e-6)
        hits = col.search(DOCS["cat"][0], k=2)
        assert hits[0].id == "cat" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[0].stages == {"dense": {"score": hits[0].score, "rank": 1}}
        assert hits[1].stages["dense"]["rank"] == 2
        with pytest.raises(TypeError, match="wrap it"):
            col.get("cat")


def test_add_refuses_existing_ids_and_makes_ids(backend, counting_encoder):
    col = Collection.create(backend, counting_encoder, indexes=())
    fill(col)
    with pytest.raises(InputError, match=r"already in the collection.*upsert"):
        col.add(["again"], ids=["cat"])
    with pytest.raises(InputError, match="appears twice"):
        col.add(["a", "b"], ids=["x", "x"])
    with pytest.raises(InputError, match=r"metadata\[0\] is not JSON"):
        col.add(["a"], ids=["y"], metadata=[{"bad": object()}])
    generated = col.add(["no id given"])
    assert len(generated) == 1 and col.get(generated)[0].text == "no id given"
    assert len(col) == 6
    col.close()


def test_upsert_embeds_only_changed_texts(backend, counting_encoder):
    col = Collection.create(backend, counting_encoder, indexes=())
    fill(col)
    texts = [DOCS[i][0] for i in DOCS]
    report = col.upsert(texts, ids=list(DOCS))
    assert report.embedded == 0 and len(report.unchanged) == 5 and counting_encoder.embedded == 5

    texts[1] = "A dog sleeps on the sofa"
    meta = [dict(DOCS[i][1]) for i in DOCS]
    meta[0]["animal"] = "kitten"
    report = col.upsert([*texts, "brand new"], ids=[*DOCS, "new"], metadata=[*meta, {"n": 1}])
    assert report.to_dict() == {
        "added": 1, "updated": 1, "metadata_only": 1, "unchanged": 3, "embedded": 2,
    }  # fmt: skip
    assert counting_encoder.embedded == 7
    cat, dog = col.get(["cat", "dog"])
    assert cat.metadata["animal"] == "kitten" and dog.text == "A dog sleeps on the sofa"
    col.upsert(["A dog naps"], ids=["dog"])  # metadata None keeps the stored metadata
    assert col.get(["dog"])[0].metadata == DOCS["dog"][1]
    assert col.search("A dog naps", k=1)[0].id == "dog"
    col.close()


def test_delete(backend, counting_encoder):
    col = Collection.create(backend, counting_encoder, indexes=None)
    fill(col)
    assert col.delete(["dog", "nope"]) == 1 and col.delete([]) == 0
    assert len(col) == 4 and "dog" not in col.ids() and col.get(["dog"]) == []
    assert "dog" not in {h.id for h in col.search(DOCS["dog"][0], k=10)}
    assert col.search("dog ball park", k=5, retriever=lexical(col)) == []
    col.compact()
    assert len(col) == 4
    col.close()


def test_filters_in_dense_and_lexical_search(backend, counting_encoder):
    col = Collection.create(backend, counting_encoder, indexes=None)
    fill(col)
    where = {"year": {"$gte": 2020}}
    assert {h.id for h in col.search("anything", k=10, where=where)} == {"dog", "fish", "code"}
    assert [h.id for h in col.search("cat", k=10, where={"animal": "cat"})] == ["cat"]
    assert col.search("cat", k=10, where={"animal": {"$in": []}}) == []
    either = {"$or": [{"lang": "en"}, {"year": "2022"}]}
    hits = col.search("python code, green tea, a cat", k=10, where=either, retriever=lexical(col))
    assert {h.id for h in hits} == {"code", "tea"}
    hits = col.search("water tea", k=10, retriever=lexical(col), where={"year": {"$exists": True}})
    assert hits[0].id == "tea" and hits[0].stages[lexical(col)]["rank"] == 1
    with pytest.raises(InputError, match="unknown filter operator"):
        col.search("cat", where={"year": {"$near": 1}})
    col.close()


def test_hybrid_pipeline_fuses_dense_and_lexical(backend, counting_encoder):
    col = Collection.create(backend, counting_encoder, indexes=None)
    fill(col)
    pipeline = Pipeline.from_spec(col, "hybrid")
    assert pipeline.stages == ["dense", lexical(col), "fusion"]
    hits = pipeline.search("goldfish glass bowl", k=3)
    assert hits[0].id == "fish"
    assert set(hits[0].stages) == {"dense", lexical(col), "fusion"}
    assert Pipeline.from_spec(col, "bm25").search("goldfish", k=1)[0].id == "fish"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert col.search("the of and", k=3, retriever=lexical(col)) == []
    assert any(issubclass(w.category, EmptyQueryWarning) for w in caught)
    col.close()


def test_mixed_spaces_are_refused(backend, counting_encoder):
    Collection.create(backend, counting_encoder, indexes=()).close()
    with pytest.raises(SpaceMismatchError, match=r"dim: 64 != 32"):
        Collection.open(backend, CountingEncoder(32))
    with pytest.raises(SpaceMismatchError, match="different embedding space"):
        Collection.create(backend, CountingEncoder(32), exist_ok=True)
    with pytest.raises(CollectionError, match="already a collection"):
        Collection.create(backend, counting_encoder)
    with Collection.create(backend, counting_encoder, exist_ok=True) as col:
        assert len(col) == 0


def test_zero_query_finds_nothing(backend, counting_encoder):
    with Collection.create(backend, counting_encoder, indexes=()) as col:
        fill(col)
        assert col.search_vector(np.zeros(64, dtype=np.float32), k=3) == []
        with pytest.raises(InputError, match="k must be positive"):
            col.search_vector(np.ones(64, dtype=np.float32), k=0)


def test_search_takes_a_list_of_queries(backend, counting_encoder):
    with Collection.create(backend, counting_encoder, indexes=()) as col:
        fill(col)
        queries = ["a dog in the park", "goldfish bowl"]
        batched = col.search(queries, k=2)
        assert [[h.id for h in hits] for hits in batched] == [
            [h.id for h in col.search(q, k=2)] for q in queries
        ]
        assert col.search([], k=2) == []


def test_search_vectors_gives_each_row_the_hits_of_search_vector(backend, counting_encoder):
    with Collection.create(backend, counting_encoder, indexes=()) as col:
        fill(col)
        vectors = col.encoder.encode(["a dog in the park", "goldfish bowl"], kind=Kind.QUERY)
        vectors = np.vstack([vectors, np.zeros((1, 64), dtype=np.float32)])
        for where in (None, {"year": {"$gte": 2021}}):
            batched = col.search_vectors(vectors, k=3, where=where)
            assert [[(h.id, h.metadata) for h in hits] for hits in batched] == [
                [(h.id, h.metadata) for h in col.search_vector(v, k=3, where=where)]
                for v in vectors
            ]
            assert batched[2] == []


def test_delete_by_where_filter(backend, counting_encoder):
    with Collection.create(backend, counting_encoder, indexes=()) as col:
        fill(col)
        assert col.delete(where={"year": {"$gte": 2021}}) == 2  # dog 2021, fish 2023
        assert sorted(col.ids()) == ["cat", "code", "tea"]  # "2022" is a string: kept
        assert col.delete(["cat", "missing"]) == 1
        with pytest.raises(InputError, match=r"ids=.*or where="):
            col.delete()
        with pytest.raises(InputError, match="not both"):
            col.delete(["code"], where={"year": 2020})
