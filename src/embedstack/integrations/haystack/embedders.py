"""Haystack embedder components over any embedstack encoder spec.

Components take a spec string (so pipelines serialise to YAML) and load the encoder in
`warm_up()`, which a Haystack pipeline calls; `run()` warms up on first use otherwise.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError
from embedstack.integrations._common import resolve_encoder
from embedstack.types import Kind


class _Embedder:
    def __init__(self, model: str | None, prefix: str, suffix: str, batch_size: int) -> None:
        if batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        self.model, self.prefix, self.suffix, self.batch_size = model, prefix, suffix, batch_size
        self._encoder: Encoder | None = None

    def warm_up(self) -> None:
        if self._encoder is None:
            self._encoder = resolve_encoder(self.model)[0]

    @property
    def encoder(self) -> Encoder:
        self.warm_up()
        assert self._encoder is not None
        return self._encoder

    def _embed(self, texts: list[str], kind: Kind) -> list[list[float]]:
        prepared = [self.prefix + t + self.suffix for t in texts]
        vectors = self.encoder.encode(prepared, kind=kind, batch_size=self.batch_size)
        return vectors.tolist()

    def _meta(self) -> dict[str, Any]:
        return {"model": self.encoder.space.model, "dim": self.encoder.dim}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return default_from_dict(cls, data)


@component
class EmbedstackTextEmbedder(_Embedder):
    """Embeds a query string (as a query: models with query prefixes get them).

    Args:
        model: an encoder spec (`"minilm"`, `"glove-50d"`, a model folder, `"hash"`,
            `"openai:..."`); None means `EMBEDSTACK_MODEL` or the default local model.
        prefix, suffix: strings added around the text before embedding.
    """

    def __init__(
        self, model: str | None = None, prefix: str = "", suffix: str = "", batch_size: int = 32
    ) -> None:
        # explicit base call: @component rebuilds the class, so zero-argument super() fails
        _Embedder.__init__(self, model, prefix, suffix, batch_size)

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component for Haystack pipelines."""
        return default_to_dict(
            self, model=self.model, prefix=self.prefix, suffix=self.suffix,
            batch_size=self.batch_size,
        )  # fmt: skip

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one query string."""
        if not isinstance(text, str):
            raise TypeError(
                "EmbedstackTextEmbedder embeds one string; for a list of Documents use "
                "EmbedstackDocumentEmbedder"
            )
        return {"embedding": self._embed([text], Kind.QUERY)[0], "meta": self._meta()}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """Embed one query string without blocking the event loop."""
        return await asyncio.to_thread(self.run, text)


@component
class EmbedstackDocumentEmbedder(_Embedder):
    """Adds an embedding to each Document (embedded as a document).

    Args:
        model: an encoder spec (see `EmbedstackTextEmbedder`).
        meta_fields_to_embed: metadata fields joined before the content when embedding.
        embedding_separator: the string joining those fields and the content.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
    ) -> None:
        # explicit base call: @component rebuilds the class, so zero-argument super() fails
        _Embedder.__init__(self, model, prefix, suffix, batch_size)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component for Haystack pipelines."""
        return default_to_dict(
            self, model=self.model, prefix=self.prefix, suffix=self.suffix,
            batch_size=self.batch_size, meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
        )  # fmt: skip

    def _text(self, document: Document) -> str:
        fields = [
            str(document.meta[key])
            for key in self.meta_fields_to_embed
            if document.meta.get(key) is not None
        ]
        return self.embedding_separator.join([*fields, document.content or ""])

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """New Document objects with `embedding` set (the inputs are not mutated)."""
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            raise TypeError(
                "EmbedstackDocumentEmbedder expects a list of Documents; for a string use "
                "EmbedstackTextEmbedder"
            )
        vectors = self._embed([self._text(d) for d in documents], Kind.DOCUMENT)
        out = [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)]
        return {"documents": out, "meta": self._meta()}

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """Embed the documents without blocking the event loop."""
        return await asyncio.to_thread(self.run, documents)
