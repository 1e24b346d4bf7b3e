"""Documented behaviours of the Haystack components: pipelines, filters, deletes, async."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

pytest.importorskip("haystack")

from haystack import Document, Pipeline

from embedstack import Collection
from embedstack.errors import InputError, MissingExtraError, SpaceMismatchError
from embedstack.integrations.haystack import (
    EmbedstackDocumentEmbedder,
    EmbedstackDocumentWriter,
    EmbedstackRetriever,
    EmbedstackTextEmbedder,
    to_where,
)

pytestmark = pytest.mark.anyio
MODEL = "hash:128"
DOCS = [
    Document(id="pets-1", content="the cat sat on the mat", meta={"topic": "pets", "year": 2020}),
    Document(
        id="pets-2", content="dogs chase cats in the park", meta={"topic": "pets", "year": 2023}
    ),
    Document(
        id="fin-1",
        content="stock markets fell sharply today",
        meta={"topic": "finance", "year": 2021},
    ),
    Document(
        id="fin-2",
        content="bond yields rose as markets slid",
        meta={"topic": "finance", "year": 2024},
    ),
]


@pytest.fixture
def kb(tmp_path):
    path = str(tmp_path / "kb.es")
    indexing = Pipeline()
    indexing.add_component("embedder", EmbedstackDocumentEmbedder(model=MODEL))
    indexing.add_component("writer", EmbedstackDocumentWriter(path=path, model=MODEL))
    indexing.connect("embedder.documents", "writer.documents")
    result = indexing.run({"embedder": {"documents": DOCS}})
    assert result["writer"]["documents_written"] == 4
    return path


def query_pipeline(path, **retriever):
    pipe = Pipeline()
    pipe.add_component("text", EmbedstackTextEmbedder(model=MODEL))
    pipe.add_component("retriever", EmbedstackRetriever(path=path, **retriever))
    pipe.connect("text.embedding", "retriever.query_embedding")
    return pipe


def ids(result):
    return [d.id for d in result["retriever"]["documents"]]


def test_embedders_match_the_encoder_and_do_not_mutate_inputs():
    text = EmbedstackTextEmbedder(model=MODEL)
    docs = EmbedstackDocumentEmbedder(model=MODEL, meta_fields_to_embed=["topic"])
    enc = docs.encoder
    assert np.allclose(text.run("a cat")["embedding"], enc.encode(["a cat"], kind="query")[0])
    out = docs.run(DOCS[:1])["documents"][0]
    expected = enc.encode(["pets\nthe cat sat on the mat"], kind="document")[0]
    assert np.allclose(out.embedding, expected) and DOCS[0].embedding is None
    assert out.id == "pets-1" and out.meta == DOCS[0].meta
    with pytest.raises(TypeError, match="EmbedstackDocumentEmbedder"):
        text.run(["a list"])
    with pytest.raises(TypeError, match="EmbedstackTextEmbedder"):
        docs.run("a string")


def test_indexing_and_query_pipelines_round_trip(kb):
    result = query_pipeline(kb, top_k=1).run({"text": {"text": "a cat on the mat"}})
    (doc,) = result["retriever"]["documents"]
    assert doc.id == "pets-1" and doc.content == "the cat sat on the mat"
    assert doc.meta == {"topic": "pets", "year": 2020} and doc.score > 0
    with Collection.open(kb) as collection:
        assert sorted(collection.ids()) == ["fin-1", "fin-2", "pets-1", "pets-2"]


def test_query_text_runs_the_hybrid_pipeline(kb):
    retriever = EmbedstackRetriever(path=kb, pipeline="hybrid", top_k=2)
    docs = retriever.run(query="stock markets")["documents"]
    assert docs[0].id == "fin-1" and docs[0].score >= docs[1].score
    bm25 = EmbedstackRetriever(path=kb, pipeline="bm25", top_k=4)
    assert sorted(d.id for d in bm25.run(query="markets")["documents"]) == ["fin-1", "fin-2"]
    with pytest.raises(InputError, match="query"):
        bm25.run()


def test_filters_in_haystack_and_embedstack_syntax(kb):
    retriever = EmbedstackRetriever(path=kb, top_k=4)
    haystack_style = {
        "operator": "AND",
        "conditions": [
            {"field": "meta.topic", "operator": "==", "value": "pets"},
            {"field": "meta.year", "operator": ">", "value": 2021},
        ],
    }
    assert ids({"retriever": retriever.run(query="x", filters=haystack_style)}) == ["pets-2"]
    either = {
        "operator": "OR",
        "conditions": [
            {"field": "meta.year", "operator": "in", "value": [2020, 2024]},
            {"field": "meta.topic", "operator": "==", "value": "none"},
        ],
    }
    assert sorted(ids({"retriever": retriever.run(query="x", filters=either)})) == [
        "fin-2",
        "pets-1",
    ]
    ours = {"year": {"$lte": 2020}}
    assert ids({"retriever": retriever.run(query="x", filters=ours)}) == ["pets-1"]
    default = EmbedstackRetriever(path=kb, top_k=4, filters={"topic": "finance"})
    assert sorted(d.id for d in default.run(query="cats")["documents"]) == ["fin-1", "fin-2"]


def test_unsupported_filters_are_refused():
    with pytest.raises(InputError, match="NOT"):
        to_where({"operator": "NOT", "conditions": []})
    with pytest.raises(InputError, match="meta"):
        to_where({"field": "content", "operator": "==", "value": "x"})
    with pytest.raises(InputError, match="not supported"):
        to_where({"field": "meta.a", "operator": "~", "value": "x"})


def test_writer_replaces_by_id_and_checks_dimensions(kb):
    writer = EmbedstackDocumentWriter(path=kb)
    changed = Document(id="fin-1", content="stock markets rallied", meta={"topic": "finance"})
    assert writer.run([changed, DOCS[1]])["documents_written"] == 1  # pets-2 unchanged
    assert writer.collection.get(["fin-1"])[0].text == "stock markets rallied"
    with pytest.raises(SpaceMismatchError, match="128-d"):
        writer.run([Document(id="x", content="x", embedding=[0.0] * 3)])
    writer.collection.delete(["fin-1"])
    retriever = EmbedstackRetriever(path=kb, top_k=4)
    assert "fin-1" not in [d.id for d in retriever.run(query="stock markets")["documents"]]


def test_pipeline_serialises_and_loads(kb):
    pipe = query_pipeline(kb, top_k=2, pipeline="hybrid")
    loaded = Pipeline.loads(pipe.dumps(), allowed_modules=["embedstack"])
    assert ids(loaded.run({"text": {"text": "bond yields"}}))[0] == "fin-2"


async def test_async_components(kb):
    embedder = EmbedstackTextEmbedder(model=MODEL)
    vector = (await embedder.run_async("bond yields"))["embedding"]
    docs = (await EmbedstackRetriever(path=kb, top_k=1).run_async(query_embedding=vector))[
        "documents"
    ]
    assert docs[0].id == "fin-2"
    writer = EmbedstackDocumentWriter(path=kb)
    new = Document(id="new", content="parrots talk", meta={"topic": "pets"})
    assert (await writer.run_async([new]))["documents_written"] == 1
    documents = (await EmbedstackDocumentEmbedder(model=MODEL).run_async([new]))["documents"]
    assert len(documents[0].embedding) == 128


def test_missing_collection_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no collection"):
        EmbedstackRetriever(path=str(tmp_path / "nope")).run(query="x")


def test_missing_framework_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("embedstack.integrations.haystack")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "haystack", None)
    with pytest.raises(MissingExtraError, match=r"embedstack\[haystack\]"):
        importlib.import_module("embedstack.integrations.haystack")
