"""Haystack components: text and document embedders, a writer and a retriever over a
collection. Needs `pip install 'embedstack[haystack]'`."""

from __future__ import annotations

from embedstack._optional import require

require("haystack", "haystack", "the Haystack components")

from embedstack.integrations.haystack.embedders import (  # noqa: E402
    EmbedstackDocumentEmbedder,
    EmbedstackTextEmbedder,
)
from embedstack.integrations.haystack.filters import to_where  # noqa: E402
from embedstack.integrations.haystack.retriever import (  # noqa: E402
    EmbedstackDocumentWriter,
    EmbedstackRetriever,
)

__all__ = [
    "EmbedstackDocumentEmbedder",
    "EmbedstackDocumentWriter",
    "EmbedstackRetriever",
    "EmbedstackTextEmbedder",
    "to_where",
]
