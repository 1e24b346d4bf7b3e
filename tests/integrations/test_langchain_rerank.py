"""The LangChain retriever over a reranked pipeline: a reranker object, and the
`hybrid+rerank` preset with a (tiny, randomly initialised) cross-encoder folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from tiny_models import write_tokenizer

from embedstack import Collection
from embedstack.integrations.langchain import EmbedstackRetriever
from embedstack.search.pipeline import Pipeline
from embedstack.search.rerank import CrossEncoderReranker, apply_scores
from embedstack.search.retrievers import DenseRetriever, IndexRetriever

TEXTS = ["the cat sat on the mat", "a cat", "cats and dogs and the cat again", "stock markets"]


class ShortestFirst:
    """A reranker that prefers short texts: easy to predict, so the order proves it ran."""

    stage = "shortest"

    def rerank(self, query, hits, k=None):
        return apply_scores(hits, np.array([-len(h.text) for h in hits]), self.stage, k)

    def config(self):
        return {"type": "shortest"}


@pytest.fixture
def collection(tmp_path):
    with Collection.create(tmp_path / "kb.es", "hash:64") as col:
        col.add(TEXTS, ids=["mat", "short", "long", "stock"])
        yield col


def test_retriever_runs_a_pipeline_with_a_reranker(collection):
    pipeline = Pipeline(
        {"dense": DenseRetriever(collection), "bm25": IndexRetriever(collection, "bm25")},
        reranker=ShortestFirst(),
    )
    retriever = EmbedstackRetriever(collection=collection, pipeline=pipeline, k=3,
                                    include_scores=True)  # fmt: skip
    docs = retriever.invoke("cat")
    lengths = [len(d.page_content) for d in docs]
    assert lengths == sorted(lengths) and docs[0].id == "short"
    assert {"dense", "bm25", "fusion", "shortest"} <= set(docs[0].metadata["embedstack_stages"])


def _tiny_cross_encoder(path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path.mkdir(parents=True)
    vocab = write_tokenizer(path, "bert")
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).eval().save_pretrained(str(path))


@pytest.mark.torch
def test_hybrid_rerank_preset_scores_with_the_cross_encoder(collection, tmp_path):
    _tiny_cross_encoder(tmp_path / "ce")
    retriever = EmbedstackRetriever(collection=collection, pipeline="hybrid+rerank",
                                    rerank=str(tmp_path / "ce"), k=4, include_scores=True)  # fmt: skip
    docs = retriever.invoke("cat on the mat")
    reference = CrossEncoderReranker(tmp_path / "ce")
    stage = reference.stage
    scores = [d.metadata["embedstack_stages"][stage]["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and len(docs) == 4
    ids = ["mat", "short", "long", "stock"]
    expected = dict(zip(ids, reference.score("cat on the mat", TEXTS), strict=True))
    for doc, score in zip(docs, scores, strict=True):
        assert score == pytest.approx(float(expected[doc.id]), abs=1e-5)
