"""`EmbedstackRetriever`: embedstack's hybrid / reranked search as a LangChain retriever.

`EmbedstackVectorStore.as_retriever()` gives plain dense search; this one runs a
`Pipeline` (dense + BM25 fused, optionally cross-encoder reranked) over a collection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from embedstack.errors import InputError
from embedstack.integrations._common import build_pipeline
from embedstack.search.pipeline import Pipeline
from embedstack.search.retrievers import Retriever
from embedstack.store.collection import Collection


class EmbedstackRetriever(BaseRetriever):
    """Documents from a collection through a retrieval pipeline.

    Args:
        collection: a `Collection` or the path of a collection folder.
        pipeline: a preset name (`"dense"`, `"bm25"`, `"hybrid"`, `"hybrid+rerank"`), a
            `Pipeline`, or any embedstack retriever (`search(query, k, where)`).
        rerank: the cross-encoder model folder for `"hybrid+rerank"`.
        k: how many documents to return.
        where: an embedstack metadata filter applied to every query.
        include_scores: add `embedstack_score` and `embedstack_stages` (each stage's
            score and rank) to the returned documents' metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: Any
    pipeline: Any = "hybrid"
    rerank: str | None = None
    k: int = 4
    where: dict[str, Any] | None = None
    include_scores: bool = False
    _runner: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        """Open a collection path, check k and build the search pipeline."""
        if isinstance(self.collection, str | Path):
            self.collection = Collection.open(self.collection)
        if not isinstance(self.collection, Collection):
            raise InputError(
                f"collection must be a Collection or a folder path, got {self.collection!r}"
            )
        if self.k <= 0:
            raise InputError(f"k must be a positive number of documents, got {self.k}")
        if isinstance(self.pipeline, str):
            self._runner = build_pipeline(self.collection, self.pipeline, self.rerank)
        elif isinstance(self.pipeline, Pipeline | Retriever):
            self._runner = self.pipeline
        else:
            raise InputError(
                f"pipeline must be a preset name, a Pipeline or a retriever, got {self.pipeline!r}"
            )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """`k` and `where` may be overridden per call: `invoke(query, k=10, where={...})`."""
        k = int(kwargs.get("k", self.k))
        where = kwargs.get("where", self.where)
        documents = []
        for hit in self._runner.search(query, k, where):
            metadata = dict(hit.metadata)
            if self.include_scores:
                metadata["embedstack_score"] = float(hit.score)
                metadata["embedstack_stages"] = hit.stages
            documents.append(Document(id=hit.id, page_content=hit.text, metadata=metadata))
        return documents
