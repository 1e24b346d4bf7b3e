"""Haystack components over a collection folder: a writer that indexes Documents and a
retriever that searches by query text (dense, BM25, hybrid, reranked) or by a query
embedding from `EmbedstackTextEmbedder`.

The collection embeds the Documents it stores with its own encoder, so every stored
vector is in the collection's embedding space; embeddings already on the Documents are
checked for their dimension only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict

from embedstack.errors import InputError, SpaceMismatchError
from embedstack.integrations._common import build_pipeline
from embedstack.integrations.haystack.filters import to_where
from embedstack.search.pipeline import Pipeline
from embedstack.store.collection import Collection
from embedstack.types import Hit


@component
class EmbedstackDocumentWriter:
    """Writes Documents into a collection (created with `model` if missing): insert or
    replace by Document id; an unchanged text is not re-embedded.

    Args:
        path: the collection folder.
        model: the encoder spec for a new collection (None: `EMBEDSTACK_MODEL` or the
            default model); an existing collection keeps its own.
    """

    def __init__(self, path: str, model: str | None = None) -> None:
        self.path, self.model = str(path), model
        self._collection: Collection | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component for Haystack pipelines."""
        return default_to_dict(self, path=self.path, model=self.model)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbedstackDocumentWriter:
        """Rebuild the component from its `to_dict` form."""
        return default_from_dict(cls, data)

    def warm_up(self) -> None:
        """Open (or create) the collection on first use."""
        if self._collection is None:
            self._collection = Collection.create(self.path, self.model, exist_ok=True)

    @property
    def collection(self) -> Collection:
        """The target collection, opened on first use."""
        self.warm_up()
        assert self._collection is not None
        return self._collection

    @component.output_types(documents_written=int)
    def run(self, documents: list[Document]) -> dict[str, int]:
        """Index the documents into the collection; reports how many were added or changed."""
        collection = self.collection
        for doc in documents:
            if doc.embedding is not None and len(doc.embedding) != collection.space.dim:
                raise SpaceMismatchError(
                    f"document {doc.id} has a {len(doc.embedding)}-d embedding but the "
                    f"collection is {collection.space.dim}-d ({collection.space.model}): "
                    "embed with the same model spec"
                )
            if doc.content is None:
                raise InputError(f"document {doc.id} has no text content to index")
        if not documents:
            return {"documents_written": 0}
        report = collection.upsert(
            [d.content or "" for d in documents],
            [d.id for d in documents],
            [dict(d.meta) for d in documents],
        )
        written = len(report.added) + len(report.updated) + len(report.metadata_only)
        return {"documents_written": written}

    @component.output_types(documents_written=int)
    async def run_async(self, documents: list[Document]) -> dict[str, int]:
        """Write the documents without blocking the event loop."""
        return await asyncio.to_thread(self.run, documents)


@component
class EmbedstackRetriever:
    """Top-k Documents from a collection, each with its `score`.

    Args:
        path: the collection folder.
        pipeline: `"dense"`, `"bm25"`, `"hybrid"` or `"hybrid+rerank"` (for `query`).
        rerank: the cross-encoder model folder for `"hybrid+rerank"`.
        top_k: how many Documents by default.
        filters: default filters, Haystack style or embedstack `where`; `run(filters=...)`
            replaces them.
    """

    def __init__(
        self,
        path: str,
        pipeline: str = "dense",
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        rerank: str | None = None,
    ) -> None:
        if top_k <= 0:
            raise InputError(f"top_k must be positive, got {top_k}")
        self.path, self.pipeline, self.top_k = str(path), pipeline, top_k
        self.filters, self.rerank = filters, rerank
        to_where(filters)  # refuse bad default filters now, not at query time
        self._collection: Collection | None = None
        self._runner: Pipeline | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component for Haystack pipelines."""
        return default_to_dict(
            self, path=self.path, pipeline=self.pipeline, top_k=self.top_k,
            filters=self.filters, rerank=self.rerank,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbedstackRetriever:
        """Rebuild the component from its `to_dict` form."""
        return default_from_dict(cls, data)

    def warm_up(self) -> None:
        """Open the collection and build the search pipeline on first use."""
        if self._collection is None:
            if not Path(self.path).exists():
                raise InputError(f"no collection at {self.path}: index documents there first")
            self._collection = Collection.open(self.path)
            self._runner = build_pipeline(self._collection, self.pipeline, self.rerank)

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str | None = None,
        query_embedding: list[float] | None = None,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[Document]]:
        """Search by `query_embedding` (dense, exact) when given, else run the pipeline
        on the `query` text."""
        self.warm_up()
        assert self._collection is not None and self._runner is not None
        k = self.top_k if top_k is None else top_k
        if k <= 0:
            raise InputError(f"top_k must be positive, got {k}")
        where = to_where(filters if filters is not None else self.filters)
        hits: list[Hit]
        if query_embedding is not None:
            vector = np.asarray(query_embedding, dtype=np.float32)
            hits = self._collection.search_vector(vector, k, where)
        elif query is not None:
            hits = self._runner.search(query, k, where)
        else:
            raise InputError("give the retriever a query or a query_embedding")
        documents = [
            Document(id=h.id, content=h.text, meta=dict(h.metadata), score=float(h.score))
            for h in hits
        ]
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(
        self,
        query: str | None = None,
        query_embedding: list[float] | None = None,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[Document]]:
        """Retrieve documents without blocking the event loop."""
        return await asyncio.to_thread(self.run, query, query_embedding, filters, top_k)
