"""`EmbedstackVectorStore`: a LlamaIndex vector store whose data is a collection folder.

Nodes are stored as rows (id = node id, text = the node's text, metadata = the node's
metadata plus LlamaIndex's serialised node, so relationships survive a round trip).
The collection embeds texts with its own encoder, so every stored vector is in the
collection's embedding space; give the index `EmbedstackEmbedding(store.encoder)` (or the
same spec) so queries are embedded in that space too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError, SpaceMismatchError
from embedstack.integrations._common import (
    FunctionEncoder,
    build_pipeline,
    open_collection,
    resolve_encoder,
    settings_hash,
)
from embedstack.integrations.llamaindex.embedding import EmbedstackEmbedding
from embedstack.integrations.llamaindex.filters import to_where
from embedstack.similarity import scores, topk
from embedstack.store.collection import Collection
from embedstack.types import Hit, Kind

_Mode = VectorStoreQueryMode
_LEXICAL = (_Mode.SPARSE, _Mode.TEXT_SEARCH)


def as_encoder(embed_model: BaseEmbedding | Encoder | str | None) -> Encoder | None:
    """Ours directly; another LlamaIndex embedding wrapped; None: the collection's own
    encoder (or the default model for a new collection)."""
    if embed_model is None:
        return None
    if isinstance(embed_model, EmbedstackEmbedding):
        return embed_model.encoder
    if isinstance(embed_model, BaseEmbedding):
        return FunctionEncoder(
            f"llamaindex:{embed_model.class_name()}:{embed_model.model_name}",
            embed_model.get_text_embedding_batch,
            embed_model.get_query_embedding,
            fingerprint=settings_hash(embed_model),
        )
    return resolve_encoder(embed_model)[0]


def _node(id_: str, text: str, metadata: dict[str, Any]) -> BaseNode:
    if "_node_content" in metadata:
        return metadata_dict_to_node(metadata, text)
    return TextNode(id_=id_, text=text, metadata=metadata)  # a row not written by LlamaIndex


def _and(*parts: dict[str, Any] | None) -> dict[str, Any] | None:
    kept = [p for p in parts if p]
    return None if not kept else kept[0] if len(kept) == 1 else {"$and": kept}


class EmbedstackVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over an embedstack collection.

    Args:
        collection: an open `Collection`; or give `path`.
        path: the collection folder, opened if it exists, else created with `embed_model`;
            None makes a temporary one.
        embed_model: `EmbedstackEmbedding`, another LlamaIndex embedding, an encoder or
            spec; None uses an existing collection's own encoder, or `EMBEDSTACK_MODEL` /
            the default model for a new one.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    path: str = ""
    _collection: Collection = PrivateAttr()
    _temp: Any = PrivateAttr(default=None)

    def __init__(
        self,
        collection: Collection | None = None,
        *,
        path: str | Path | None = None,
        embed_model: BaseEmbedding | Encoder | str | None = None,
        indexes: Any = None,
        metric: str = "cosine",
    ) -> None:
        temp = None
        if collection is None:
            collection, temp = open_collection(
                path, as_encoder(embed_model), indexes=indexes, metric=metric
            )
        super().__init__(path=str(collection.path))  # type: ignore[call-arg]
        self._collection, self._temp = collection, temp

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records when it serialises this store."""
        return "EmbedstackVectorStore"

    @property
    def client(self) -> Collection:
        """The underlying embedstack collection."""
        return self._collection

    @property
    def encoder(self) -> Encoder:
        """The collection's encoder, which embeds queries and nodes."""
        return self._collection.encoder

    # -- writes --------------------------------------------------------------------------
    def add(self, nodes: Any, **kwargs: Any) -> list[str]:
        """Insert or replace nodes by id (unchanged texts are not re-embedded)."""
        nodes = list(nodes)
        dim = self._collection.space.dim
        for node in nodes:
            if node.embedding is not None and len(node.embedding) != dim:
                raise SpaceMismatchError(
                    f"node {node.node_id} has a {len(node.embedding)}-d embedding but the "
                    f"collection is {dim}-d: use EmbedstackEmbedding(store.encoder) as the "
                    "index's embed_model"
                )
        if not nodes:
            return []
        ids = [n.node_id for n in nodes]
        texts = [n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        metas = [
            node_to_metadata_dict(n, remove_text=True, flat_metadata=self.flat_metadata)
            for n in nodes
        ]
        self._collection.upsert(texts, ids, metas)
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of one source document."""
        self._collection.delete(self._collection.ids_where({"ref_doc_id": ref_doc_id}))

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the given nodes, or those matching `filters`, or (both given) the given
        nodes that match. With neither nothing is deleted: use `clear()` for all."""
        if node_ids is None and filters is None:
            return
        self._collection.delete(self._select(node_ids, filters))

    def clear(self) -> None:
        """Delete every node in the collection."""
        self._collection.delete(self._collection.ids())

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The stored nodes matching these ids and/or filters."""
        records = self._collection.get(self._select(node_ids, filters))
        return [_node(r.id, r.text, r.metadata) for r in records]

    def _select(self, node_ids: list[str] | None, filters: MetadataFilters | None) -> list[str]:
        where = to_where(filters)
        if where is None:
            return list(node_ids) if node_ids is not None else self._collection.ids()
        matching = self._collection.ids_where(where)
        if node_ids is None:
            return matching
        allowed = set(matching)
        return [i for i in node_ids if i in allowed]

    # -- search --------------------------------------------------------------------------
    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Modes: default (dense, by `query_embedding` or else `query_str`), `hybrid`
        (dense + BM25 fused; `alpha` weights dense, else the default fusion), `sparse` /
        `text_search` (BM25). Filters, `doc_ids` and (dense only) `node_ids` restrict."""
        k = query.similarity_top_k
        where = _and(
            to_where(query.filters),
            {"ref_doc_id": {"$in": list(query.doc_ids)}} if query.doc_ids else None,
        )
        mode = _Mode(query.mode)
        if mode == _Mode.DEFAULT:
            hits = self._dense(query, k, where)
        elif mode == _Mode.HYBRID or mode in _LEXICAL:
            hits = self._pipeline(query, mode, where)
        else:
            raise InputError(
                f"query mode {mode.value!r} is not supported; use default, hybrid, sparse "
                "or text_search"
            )
        return VectorStoreQueryResult(
            nodes=[_node(h.id, h.text, h.metadata) for h in hits],
            similarities=[float(h.score) for h in hits],
            ids=[h.id for h in hits],
        )

    def _dense(self, query: VectorStoreQuery, k: int, where: dict[str, Any] | None) -> list[Hit]:
        if query.query_embedding is not None:
            vector = np.asarray(query.query_embedding, dtype=np.float32)
        elif query.query_str is not None:
            vector = self.encoder.encode([query.query_str], kind=Kind.QUERY)[0]
        else:
            raise InputError("a dense query needs query_embedding or query_str")
        if not query.node_ids:  # LlamaIndex passes [] for no restriction
            return self._collection.search_vector(vector, k, where)
        records = self._collection.get(self._select(list(query.node_ids), None))
        if where is not None:
            allowed = set(self._collection.ids_where(where))
            records = [r for r in records if r.id in allowed]
        if not records:
            return []
        matrix = np.stack([r.vector for r in records])
        best, values = topk(scores(vector, matrix, self._collection.manifest.metric)[0], k)
        return [
            Hit(records[i].id, float(v), records[i].text, records[i].metadata)
            for i, v in zip(best, values, strict=True)
        ]

    def _pipeline(
        self, query: VectorStoreQuery, mode: VectorStoreQueryMode, where: dict[str, Any] | None
    ) -> list[Hit]:
        from embedstack.search.fusion import LinearFusion, Normalization
        from embedstack.search.pipeline import Pipeline
        from embedstack.search.retrievers import DenseRetriever, IndexRetriever, Retriever

        if query.query_str is None:
            raise InputError(f"{mode.value} search needs query_str (the query text)")
        if query.node_ids:
            raise InputError(f"node_ids restrict dense search only, not {mode.value}")
        if mode in _LEXICAL:
            pipeline = build_pipeline(self._collection, "bm25")
            k = query.sparse_top_k or query.similarity_top_k
        elif query.alpha is not None:
            weights = {"dense": float(query.alpha), "bm25": 1.0 - float(query.alpha)}
            retrievers: dict[str, Retriever] = {
                "dense": DenseRetriever(self._collection),
                "bm25": IndexRetriever(self._collection, "bm25"),
            }
            # the default fusion's normalisation (z-scores), with LlamaIndex's weighting
            pipeline = Pipeline(retrievers, LinearFusion(weights, Normalization.ZSCORE))
            k = query.hybrid_top_k or query.similarity_top_k
        else:
            pipeline = build_pipeline(self._collection, "hybrid")
            k = query.hybrid_top_k or query.similarity_top_k
        return pipeline.search(query.query_str, k, where)

    # -- async: the collection is thread-safe, so run the sync calls off the loop ---------
    async def async_add(self, nodes: Any, **kwargs: Any) -> list[str]:
        """Add nodes without blocking the event loop."""
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete a source document's nodes without blocking the event loop."""
        await asyncio.to_thread(self.delete, ref_doc_id)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filters without blocking the event loop."""
        await asyncio.to_thread(self.delete_nodes, node_ids, filters)

    async def aclear(self) -> None:
        """Delete every node without blocking the event loop."""
        await asyncio.to_thread(self.clear)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Get nodes by id and/or filters without blocking the event loop."""
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Run a query without blocking the event loop."""
        return await asyncio.to_thread(self.query, query)
