"""`EmbedstackEmbeddings`: any embedstack encoder spec as a LangChain `Embeddings`."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.embeddings import Embeddings

from embedstack.encoders.base import Encoder
from embedstack.integrations._common import resolve_encoder
from embedstack.types import Kind


class EmbedstackEmbeddings(Embeddings):
    """LangChain embeddings backed by an embedstack encoder.

    Args:
        model: an encoder spec (`"minilm"`, `"glove-50d"`, `"openai:text-embedding-3-small"`,
            a model folder, `"hash"`, ...) or an `Encoder`; None means `EMBEDSTACK_MODEL`
            or the default local model.
        batch_size: texts per encoder batch (None: the encoder's default).
        **options: encoder options passed to `embedstack.load_encoder` (e.g. `cache=True`).

    Queries and documents are embedded as such, so models with query/passage prefixes
    get them right.
    """

    def __init__(
        self, model: str | Encoder | None = None, *, batch_size: int | None = None, **options: Any
    ) -> None:
        self.encoder, self.model = resolve_encoder(model, **options)
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"EmbedstackEmbeddings(model={self.model!r}, dim={self.encoder.dim})"

    def _encode(self, texts: list[str], kind: Kind) -> list[list[float]]:
        vectors = self.encoder.encode(list(texts), kind=kind, batch_size=self.batch_size)
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts as documents."""
        return self._encode(texts, Kind.DOCUMENT)

    def embed_query(self, text: str) -> list[float]:
        """Embed one text as a query."""
        return self._encode([text], Kind.QUERY)[0]

    async def _aencode(self, texts: list[str], kind: Kind) -> list[list[float]]:
        # Encoders with native async (hosted APIs) expose `aencode`; local models run
        # in a worker thread so the event loop is never blocked.
        native = getattr(self.encoder, "aencode", None)
        if native is not None:
            vectors = await native(list(texts), kind=kind, batch_size=self.batch_size)
            return vectors.tolist()
        return await asyncio.to_thread(self._encode, texts, kind)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts as documents without blocking the event loop."""
        return await self._aencode(texts, Kind.DOCUMENT)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one text as a query without blocking the event loop."""
        return (await self._aencode([text], Kind.QUERY))[0]
