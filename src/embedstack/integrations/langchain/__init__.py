"""LangChain adapters: embeddings, a vector store over a collection, and a retriever
over the hybrid / reranked pipeline. Needs `pip install 'embedstack[langchain]'`."""

from __future__ import annotations

from embedstack._optional import require

require("langchain_core", "langchain", "the LangChain adapters")

from embedstack.integrations.langchain.embeddings import EmbedstackEmbeddings  # noqa: E402
from embedstack.integrations.langchain.retriever import EmbedstackRetriever  # noqa: E402
from embedstack.integrations.langchain.vectorstore import EmbedstackVectorStore  # noqa: E402

__all__ = ["EmbedstackEmbeddings", "EmbedstackRetriever", "EmbedstackVectorStore"]
