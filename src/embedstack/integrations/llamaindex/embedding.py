"""`EmbedstackEmbedding`: any embedstack encoder spec as a LlamaIndex `BaseEmbedding`."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from embedstack.encoders.base import Encoder
from embedstack.integrations._common import resolve_encoder
from embedstack.types import Kind


class EmbedstackEmbedding(BaseEmbedding):
    """LlamaIndex embeddings backed by an embedstack encoder.

    `EmbedstackEmbedding("minilm")`, `EmbedstackEmbedding("glove-50d")`, a model folder,
    `"openai:..."`, or an `Encoder` object (e.g. `collection.encoder`, so the index's
    queries are embedded exactly as the collection's documents). None means
    `EMBEDSTACK_MODEL` or the default local model. Queries and texts are embedded as
    queries and documents, so models with prefixes get them right.
    """

    _encoder: Encoder = PrivateAttr()

    def __init__(self, model: str | Encoder | None = None, **kwargs: Any) -> None:
        encoder, spec = resolve_encoder(model)
        super().__init__(model_name=spec, **kwargs)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records when it serialises this embedding."""
        return "EmbedstackEmbedding"

    @property
    def encoder(self) -> Encoder:
        """The embedstack encoder doing the work."""
        return self._encoder

    def _encode(self, texts: list[str], kind: Kind) -> list[list[float]]:
        vectors = self._encoder.encode(list(texts), kind=kind, batch_size=self.embed_batch_size)
        return vectors.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query], Kind.QUERY)[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text], Kind.DOCUMENT)[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, Kind.DOCUMENT)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await asyncio.to_thread(self._encode, [query], Kind.QUERY))[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await asyncio.to_thread(self._encode, [text], Kind.DOCUMENT))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._encode, texts, Kind.DOCUMENT)
