"""Documented behaviours of the LangChain adapters beyond the standard suites."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.embeddings import DeterministicFakeEmbedding

from embedstack import Collection
from embedstack.errors import MissingExtraError, SpaceMismatchError
from embedstack.integrations.langchain import (
    EmbedstackEmbeddings,
    EmbedstackRetriever,
    EmbedstackVectorStore,
)

pytestmark = pytest.mark.anyio

TEXTS = [
    "the cat sat on the mat",
    "dogs chase cats in the park",
    "stock markets fell sharply today",
    "bond yields rose as markets slid",
]
METAS = [
    {"topic": "pets", "year": 2020},
    {"topic": "pets", "year": 2023},
    {"topic": "finance", "year": 2021},
    {"topic": "finance", "year": 2024},
]


@pytest.fixture
def store(tmp_path):
    s = EmbedstackVectorStore.from_texts(
        TEXTS, EmbedstackEmbeddings("hash:128"), metadatas=METAS, ids=list("abcd"),
        path=tmp_path / "kb.es",
    )  # fmt: skip
    yield s
    s.collection.close()


def test_embeddings_match_the_encoder_with_query_and_document_kinds():
    emb = EmbedstackEmbeddings("hash:32")
    docs = emb.embed_documents(["a b", "c"])
    expected = emb.encoder.encode(["a b", "c"], kind="document")
    assert np.allclose(docs, expected) and isinstance(docs[0][0], float)
    assert np.allclose(emb.embed_query("a b"), emb.encoder.encode(["a b"], kind="query")[0])


async def test_async_embeddings_equal_sync():
    emb = EmbedstackEmbeddings("hash:32")
    assert await emb.aembed_documents(["x y", "z"]) == emb.embed_documents(["x y", "z"])
    assert await emb.aembed_query("x y") == emb.embed_query("x y")


def test_from_texts_path_is_a_collection_folder_that_reopens(store, tmp_path):
    with Collection.open(tmp_path / "kb.es") as collection:
        assert sorted(collection.ids()) == list("abcd")
        assert collection.get(["c"])[0].metadata == METAS[2]
    reopened = EmbedstackVectorStore.open(tmp_path / "kb.es")
    assert reopened.similarity_search("cat on a mat", k=1)[0].id == "a"


def test_from_texts_without_path_uses_a_temporary_folder():
    s = EmbedstackVectorStore.from_texts(TEXTS, EmbedstackEmbeddings("hash:64"))
    folder = s.collection.path
    assert folder.exists() and len(s.collection) == 4
    s.collection.close()
    del s
    import gc

    gc.collect()
    assert not folder.exists()


def test_filters_use_the_where_language(store):
    docs = store.similarity_search("markets", k=4, filter={"topic": "pets"})
    assert {d.id for d in docs} == {"a", "b"}
    docs = store.similarity_search("markets", k=4, filter={"year": {"$gte": 2023}})
    assert {d.id for d in docs} == {"b", "d"}
    docs = store.similarity_search(
        "x", k=4, filter={"$or": [{"topic": "finance", "year": 2021}, {"year": 2020}]}
    )
    assert {d.id for d in docs} == {"a", "c"}


def test_scores_and_relevance_scores(store):
    pairs = store.similarity_search_with_score("stock markets fell", k=4)
    scores = [s for _, s in pairs]
    assert pairs[0][0].id == "c" and scores == sorted(scores, reverse=True)
    enc = store.collection.encoder
    q = enc.encode(["stock markets fell"], kind="query")[0]
    d = enc.encode([TEXTS[2]], kind="document")[0]
    assert scores[0] == pytest.approx(float(q @ d), abs=1e-5)  # cosine of unit vectors
    relevant = store.similarity_search_with_relevance_scores("stock markets fell", k=4)
    assert all(0.0 <= s <= 1.0 for _, s in relevant)
    assert [d.id for d, _ in relevant] == [d.id for d, _ in pairs]


def test_search_by_vector_and_mmr(store):
    vector = store.embeddings.embed_query("cats and dogs")
    by_vector = store.similarity_search_by_vector(vector, k=2)
    assert [d.id for d in by_vector] == [d.id for d in store.similarity_search("cats and dogs", 2)]
    mmr = store.max_marginal_relevance_search("cats and dogs", k=2, fetch_k=4, lambda_mult=0.5)
    assert len(mmr) == 2 and len({d.id for d in mmr}) == 2
    assert mmr[0].id == by_vector[0].id


def test_delete_and_get_by_ids(store):
    store.delete(["a", "zz"])
    assert [d.id for d in store.get_by_ids(["a", "b"])] == ["b"]
    store.delete()
    assert store.get_by_ids(list("abcd")) == [] and len(store.collection) == 0


def test_as_retriever_passes_filters(store):
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"topic": "finance"}})
    docs = retriever.invoke("cats")
    assert {d.id for d in docs} == {"c", "d"}


def test_hybrid_retriever_runs_the_pipeline_and_reports_stages(store):
    retriever = EmbedstackRetriever(collection=store.collection, k=2, include_scores=True)
    docs = retriever.invoke("stock markets")
    assert docs[0].id == "c"
    stages = docs[0].metadata["embedstack_stages"]
    assert {"dense", "bm25", "fusion"} <= set(stages)
    bm25 = EmbedstackRetriever(collection=store.collection.path, pipeline="bm25", k=4)
    assert [d.id for d in bm25.invoke("markets", where={"year": 2024})] == ["d"]
    assert "embedstack_score" not in bm25.invoke("markets")[0].metadata


async def test_async_store_round_trip(tmp_path):
    s = EmbedstackVectorStore(EmbedstackEmbeddings("hash:64"), path=tmp_path / "a.es")
    ids = await s.aadd_texts(TEXTS, METAS)
    docs = await s.asimilarity_search("dogs chase cats", k=1, filter={"topic": "pets"})
    assert docs[0].id == ids[1]
    await s.adelete([ids[1]])
    assert await s.aget_by_ids([ids[1]]) == []


def test_reopening_with_other_embeddings_is_refused(store, tmp_path):
    store.collection.close()
    with pytest.raises(SpaceMismatchError):
        EmbedstackVectorStore(DeterministicFakeEmbedding(size=6), path=tmp_path / "kb.es")
    with pytest.raises(SpaceMismatchError):
        EmbedstackVectorStore.open(tmp_path / "kb.es", EmbedstackEmbeddings("hash:64"))


def test_bad_metadata_is_a_clear_error(tmp_path):
    s = EmbedstackVectorStore(EmbedstackEmbeddings("hash:16"), path=tmp_path / "b.es")
    with pytest.raises(ValueError, match="JSON"):
        s.add_texts(["x"], [{"when": object()}])
    assert len(s.collection) == 0


def test_missing_framework_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("embedstack.integrations.langchain")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    with pytest.raises(MissingExtraError, match=r"embedstack\[langchain\]"):
        importlib.import_module("embedstack.integrations.langchain")


def test_core_does_not_import_frameworks():
    import subprocess

    code = (
        "import sys, embedstack\n"
        "from embedstack import Collection, Pipeline, load_encoder\n"
        "import embedstack.integrations\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'llama_index', 'haystack')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_existing_folder_opens_with_its_own_encoder(store, tmp_path):
    again = EmbedstackVectorStore(path=tmp_path / "kb.es")  # no embedding given
    assert again.collection.space == store.collection.space
    assert again.similarity_search("bond yields", k=1)[0].id == "d"
    assert again.embeddings.embed_query("x") == store.embeddings.embed_query("x")
