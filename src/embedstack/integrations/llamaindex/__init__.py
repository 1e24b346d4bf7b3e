"""LlamaIndex adapters: an embedding model and a vector store over a collection.
Needs `pip install 'embedstack[llamaindex]'`."""

from __future__ import annotations

from embedstack._optional import require

require("llama_index.core", "llamaindex", "the LlamaIndex adapters")

from embedstack.integrations.llamaindex.embedding import EmbedstackEmbedding  # noqa: E402
from embedstack.integrations.llamaindex.filters import to_where  # noqa: E402
from embedstack.integrations.llamaindex.vectorstore import EmbedstackVectorStore  # noqa: E402

__all__ = ["EmbedstackEmbedding", "EmbedstackVectorStore", "to_where"]
