"""`EmbedstackVectorStore`: a LangChain `VectorStore` over an embedstack collection.

The collection folder is the store: it can be reopened by `embedstack search`, the
server or `Collection.open`, and filters are embedstack's `where` language
(`{"year": {"$gte": 2020}}`, `$in`, `$and`, ...), evaluated before ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from embedstack.encoders.base import Encoder
from embedstack.integrations._common import FunctionEncoder, fill_ids, open_collection, relevance
from embedstack.integrations.langchain.embeddings import EmbedstackEmbeddings
from embedstack.store.collection import Collection
from embedstack.types import Hit, Kind


def as_encoder(embedding: Embeddings | Encoder | str | None) -> Encoder | None:
    """The encoder a collection should embed with: ours directly, a LangChain embedding
    object wrapped (named by its class, keyed by a hash of its settings); None leaves the
    choice to the collection (its own encoder, or the default model for a new one)."""
    if embedding is None:
        return None
    if isinstance(embedding, EmbedstackEmbeddings):
        return embedding.encoder
    if isinstance(embedding, Embeddings):
        from embedstack.integrations._common import settings_hash

        cls = type(embedding)
        return FunctionEncoder(
            f"langchain:{cls.__module__}.{cls.__qualname__}",
            embedding.embed_documents,
            embedding.embed_query,
            fingerprint=settings_hash(embedding),
        )
    return EmbedstackEmbeddings(embedding).encoder


def _document(hit_id: str, text: str, metadata: dict[str, Any]) -> Document:
    return Document(id=hit_id, page_content=text, metadata=metadata)


class EmbedstackVectorStore(VectorStore):
    """A LangChain vector store whose data is an embedstack collection folder.

    Args:
        embedding: a LangChain `Embeddings` (ours or any other), an embedstack encoder or
            spec; None uses an existing collection's own encoder, or `EMBEDSTACK_MODEL` /
            the default model for a new one.
        path: the collection folder, opened if it exists, else created; None makes a
            temporary one (removed when the store is garbage-collected).
        collection: an open `Collection` to use instead of `path`.
        indexes, metric: settings for a newly created collection (see `Collection.create`).
    """

    def __init__(
        self,
        embedding: Embeddings | Encoder | str | None = None,
        *,
        path: str | Path | None = None,
        collection: Collection | None = None,
        indexes: Any = None,
        metric: str = "cosine",
    ) -> None:
        self._temp = None
        if collection is None:
            encoder = as_encoder(embedding)
            collection, self._temp = open_collection(path, encoder, indexes=indexes, metric=metric)
        else:
            encoder = as_encoder(embedding)
            if encoder is not None:
                collection.space.require_same(encoder.space)
        self.collection = collection
        self._embedding = embedding if isinstance(embedding, Embeddings) else None

    @property
    def embeddings(self) -> Embeddings:
        """LangChain embeddings wrapping the collection's own encoder."""
        if self._embedding is None:
            self._embedding = EmbedstackEmbeddings(self.collection.encoder)
        return self._embedding

    # -- writes --------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Insert or replace by id (a text that did not change is not re-embedded);
        missing ids are made up. Metadata must be JSON-serialisable."""
        items = list(texts)
        id_list = fill_ids(ids, len(items))
        metas = [dict(m) for m in metadatas] if metadatas is not None else None
        if items:
            self.collection.upsert(items, id_list, metas or [{} for _ in items])
        return id_list

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by id (missing ids are ignored); `ids=None` deletes everything."""
        self.collection.delete(self.collection.ids() if ids is None else list(ids))
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids."""
        return [_document(r.id, r.text, r.metadata) for r in self.collection.get(list(ids))]

    # -- search --------------------------------------------------------------------------
    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with the collection's similarity (larger is closer: cosine by
        default), best first. `filter` is an embedstack `where` filter."""
        return self._pairs(self.collection.search(query, k, where=filter))

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The k documents most similar to the query."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:  # fmt: skip
        """The k documents most similar to a query vector."""
        hits = self.collection.search_vector(np.asarray(embedding), k, where=filter)
        return [doc for doc, _ in self._pairs(hits)]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:  # fmt: skip
        """The k documents for the query chosen for relevance and diversity (MMR)."""
        vector = self.collection.encoder.encode([query], kind=Kind.QUERY)[0]
        return self.max_marginal_relevance_search_by_vector(
            vector.tolist(), k, fetch_k, lambda_mult, filter=filter
        )

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None, **kwargs: Any,
    ) -> list[Document]:  # fmt: skip
        """Diverse results: the `fetch_k` nearest, then picked greedily for relevance
        minus redundancy (`lambda_mult` 1 is pure relevance, 0 pure diversity)."""
        query = np.asarray(embedding, dtype=np.float32)
        hits = self.collection.search_vector(query, max(k, fetch_k), where=filter)
        if not hits:
            return []
        records = self.collection.get([h.id for h in hits])
        chosen = maximal_marginal_relevance(
            query, [r.vector.tolist() for r in records], lambda_mult=lambda_mult, k=k
        )
        return [_document(records[i].id, records[i].text, records[i].metadata) for i in chosen]

    def _select_relevance_score_fn(self) -> Any:
        metric, normalized = self.collection.manifest.metric, self.collection.space.normalize
        return lambda score: relevance(score, metric, normalized)

    @staticmethod
    def _pairs(hits: list[Hit]) -> list[tuple[Document, float]]:
        return [(_document(h.id, h.text, h.metadata), float(h.score)) for h in hits]

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | Path | None = None,
        **kwargs: Any,
    ) -> EmbedstackVectorStore:
        """A store at `path` (a temporary folder when None) holding `texts`."""
        store = cls(embedding, path=path, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def open(
        cls, path: str | Path, embedding: Embeddings | Encoder | str | None = None
    ) -> EmbedstackVectorStore:
        """An existing collection folder (e.g. built with `embedstack index`)."""
        collection = Collection.open(path, as_encoder(embedding))
        store = cls(collection=collection)
        store._embedding = embedding if isinstance(embedding, Embeddings) else None
        return store
