"""Documented behaviours of the LlamaIndex adapters: round trips, filters, deletes, async."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from embedstack import Collection
from embedstack.errors import InputError, MissingExtraError, SpaceMismatchError
from embedstack.integrations.llamaindex import (
    EmbedstackEmbedding,
    EmbedstackVectorStore,
    to_where,
)

pytestmark = pytest.mark.anyio

DOCS = [
    Document(id_="pets-1", text="the cat sat on the mat", metadata={"topic": "pets", "year": 2020}),
    Document(
        id_="pets-2", text="dogs chase cats in the park", metadata={"topic": "pets", "year": 2023}
    ),
    Document(
        id_="fin-1",
        text="stock markets fell sharply today",
        metadata={"topic": "finance", "year": 2021},
    ),
    Document(
        id_="fin-2",
        text="bond yields rose as markets slid",
        metadata={"topic": "finance", "year": 2024},
    ),
]


def flt(key, value, op=FilterOperator.EQ):
    return MetadataFilter(key=key, value=value, operator=op)


@pytest.fixture
def embed_model():
    return EmbedstackEmbedding("hash:128")


@pytest.fixture
def index(tmp_path, embed_model):
    store = EmbedstackVectorStore(path=tmp_path / "kb.es", embed_model=embed_model)
    context = StorageContext.from_defaults(vector_store=store)
    idx = VectorStoreIndex.from_documents(DOCS, storage_context=context, embed_model=embed_model)
    yield idx
    store.client.close()


def texts(results):
    return [r.node.get_content() for r in results]


def test_embedding_matches_the_encoder(embed_model):
    enc = embed_model.encoder
    assert np.allclose(embed_model.get_query_embedding("a b"), enc.encode(["a b"], kind="query")[0])
    batch = embed_model.get_text_embedding_batch(["a b", "c"])
    assert np.allclose(batch, enc.encode(["a b", "c"], kind="document"))


async def test_embedding_async_equals_sync(embed_model):
    assert await embed_model.aget_query_embedding("x y") == embed_model.get_query_embedding("x y")
    assert await embed_model.aget_text_embedding_batch(["x", "y z"]) == (
        embed_model.get_text_embedding_batch(["x", "y z"])
    )


def test_index_round_trip_keeps_text_metadata_and_source(index):
    results = index.as_retriever(similarity_top_k=1).retrieve("a cat on the mat")
    node = results[0].node
    assert node.get_content() == "the cat sat on the mat"
    assert node.metadata == {"topic": "pets", "year": 2020}
    assert node.ref_doc_id == "pets-1"
    assert results[0].score == pytest.approx(
        float(
            np.dot(
                index._embed_model.get_query_embedding("a cat on the mat"),
                index._embed_model.get_text_embedding("the cat sat on the mat"),
            )
        ),
        abs=1e-5,
    )


def test_collection_folder_reopens_for_llamaindex_and_embedstack(index, embed_model, tmp_path):
    with Collection.open(tmp_path / "kb.es") as collection:
        hits = collection.search("stock markets", k=1)
        assert hits[0].text == "stock markets fell sharply today"
    store = EmbedstackVectorStore(path=tmp_path / "kb.es", embed_model=embed_model)
    again = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    assert texts(again.as_retriever(similarity_top_k=1).retrieve("bond yields")) == [
        "bond yields rose as markets slid"
    ]


def test_metadata_filters(index):
    def ask(filters, k=4):
        return sorted(texts(index.as_retriever(similarity_top_k=k, filters=filters).retrieve("x")))

    assert ask(MetadataFilters(filters=[flt("topic", "pets")])) == [
        "dogs chase cats in the park",
        "the cat sat on the mat",
    ]
    assert ask(MetadataFilters(filters=[flt("year", 2023, FilterOperator.GTE)])) == [
        "bond yields rose as markets slid",
        "dogs chase cats in the park",
    ]
    either = MetadataFilters(
        filters=[flt("year", [2020, 2021], FilterOperator.IN), flt("topic", "x")],
        condition=FilterCondition.OR,
    )
    assert ask(either) == ["stock markets fell sharply today", "the cat sat on the mat"]
    nested = MetadataFilters(
        filters=[
            flt("topic", "finance"),
            MetadataFilters(
                filters=[
                    flt("year", 2021, FilterOperator.LT),
                    flt("year", 2023, FilterOperator.GT),
                ],
                condition=FilterCondition.OR,
            ),
        ]
    )
    assert ask(nested) == ["bond yields rose as markets slid"]


def test_unsupported_filters_are_refused():
    with pytest.raises(InputError, match="text_match"):
        to_where(MetadataFilters(filters=[flt("topic", "pe", FilterOperator.TEXT_MATCH)]))
    with pytest.raises(InputError, match="'not'"):
        to_where(MetadataFilters(filters=[flt("a", 1)], condition=FilterCondition.NOT))
    assert to_where(MetadataFilters(filters=[flt("a", None, FilterOperator.IS_EMPTY)])) == {
        "a": None
    }


def test_delete_by_document_nodes_filters_and_clear(index):
    store = index.vector_store
    index.delete_ref_doc("pets-1")
    assert "the cat sat on the mat" not in texts(
        index.as_retriever(similarity_top_k=4).retrieve("cat")
    )
    assert len(store.client) == 3
    store.delete_nodes(filters=MetadataFilters(filters=[flt("topic", "finance")]))
    assert [n.get_content() for n in store.get_nodes()] == ["dogs chase cats in the park"]
    store.delete_nodes()  # neither ids nor filters: nothing
    assert len(store.client) == 1
    store.clear()
    assert store.get_nodes() == []


def test_get_and_delete_nodes_by_id(index):
    store = index.vector_store
    ids = store.client.ids()
    nodes = store.get_nodes(node_ids=ids[:2])
    assert [n.node_id for n in nodes] == ids[:2]
    pets = MetadataFilters(filters=[flt("topic", "pets")])
    assert [n.node_id for n in store.get_nodes(node_ids=ids, filters=pets)] == ids[:2]
    store.delete_nodes(node_ids=[ids[0], "missing"])
    assert store.client.ids() == ids[1:]


def test_query_restricted_to_nodes_and_documents(index, embed_model):
    store = index.vector_store
    ids = store.client.ids()
    vector = embed_model.get_query_embedding("stock markets")
    result = store.query(
        VectorStoreQuery(query_embedding=vector, similarity_top_k=4, node_ids=ids[:2])
    )
    assert result.ids and set(result.ids) <= set(ids[:2])
    assert result.similarities == sorted(result.similarities, reverse=True)
    by_doc = store.query(
        VectorStoreQuery(query_embedding=vector, similarity_top_k=4, doc_ids=["fin-2"])
    )
    assert [n.ref_doc_id for n in by_doc.nodes] == ["fin-2"]


def test_hybrid_and_text_search_modes(index):
    store = index.vector_store
    lexical = store.query(
        VectorStoreQuery(
            query_str="markets", similarity_top_k=4, mode=VectorStoreQueryMode.TEXT_SEARCH
        )
    )
    assert sorted(n.get_content() for n in lexical.nodes) == [
        "bond yields rose as markets slid",
        "stock markets fell sharply today",
    ]
    hybrid = store.query(
        VectorStoreQuery(
            query_str="stock markets", similarity_top_k=2, mode=VectorStoreQueryMode.HYBRID
        )
    )
    assert hybrid.nodes[0].get_content() == "stock markets fell sharply today"
    only_bm25 = store.query(
        VectorStoreQuery(query_str="markets", similarity_top_k=4, mode="hybrid", alpha=0.0)
    )
    assert set(only_bm25.ids[:2]) == set(lexical.ids)
    with pytest.raises(InputError, match="not supported"):
        store.query(VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.MMR))


async def test_async_paths(tmp_path, embed_model):
    store = EmbedstackVectorStore(path=tmp_path / "a.es", embed_model=embed_model)
    nodes = [TextNode(id_=f"n{i}", text=d.text, metadata=d.metadata) for i, d in enumerate(DOCS)]
    assert await store.async_add(nodes) == ["n0", "n1", "n2", "n3"]
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    results = await index.as_retriever(similarity_top_k=1).aretrieve("bond yields")
    assert results[0].node.node_id == "n3"
    await store.adelete_nodes(node_ids=["n3"])
    assert [n.node_id for n in await store.aget_nodes(node_ids=["n3", "n2"])] == ["n2"]
    result = await store.aquery(VectorStoreQuery(query_str="cats", similarity_top_k=4))
    assert set(result.ids) == {"n0", "n1", "n2"}
    await store.aclear()
    assert len(store.client) == 0


def test_other_embed_models_are_wrapped_and_dimensions_checked(tmp_path):
    store = EmbedstackVectorStore(path=tmp_path / "m.es", embed_model=MockEmbedding(embed_dim=8))
    assert store.client.space.dim == 8 and store.client.space.model.startswith("llamaindex:")
    store.add([TextNode(id_="a", text="hello")])
    with pytest.raises(SpaceMismatchError, match="8-d"):
        store.add([TextNode(id_="b", text="x", embedding=[0.1] * 4)])
    assert store.client.ids() == ["a"]


def test_missing_framework_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("embedstack.integrations.llamaindex")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "llama_index.core", None)
    with pytest.raises(MissingExtraError, match=r"embedstack\[llamaindex\]"):
        importlib.import_module("embedstack.integrations.llamaindex")


def test_retriever_query_modes_reach_the_store(index):
    hybrid = index.as_retriever(similarity_top_k=2, vector_store_query_mode="hybrid", alpha=0.5)
    assert texts(hybrid.retrieve("stock markets"))[0] == "stock markets fell sharply today"
    lexical = index.as_retriever(similarity_top_k=4, vector_store_query_mode="text_search")
    assert sorted(texts(lexical.retrieve("markets"))) == [
        "bond yields rose as markets slid",
        "stock markets fell sharply today",
    ]


def test_existing_folder_opens_with_its_own_encoder(index, tmp_path):
    store = EmbedstackVectorStore(path=tmp_path / "kb.es")  # no embed_model given
    assert store.client.space.model == "hash:128"
    embed_model = EmbedstackEmbedding(store.encoder)
    again = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    assert texts(again.as_retriever(similarity_top_k=1).retrieve("stock markets")) == [
        "stock markets fell sharply today"
    ]
