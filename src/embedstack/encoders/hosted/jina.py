"""Jina AI `POST /v1/embeddings`.

Request: `{"model", "input": [...], "task": "retrieval.query"|"retrieval.passage",
"embedding_type": "float", "truncate": bool, "dimensions"?}`; response in the OpenAI
shape with `usage.total_tokens`. The task adapters exist on jina-embeddings-v3 and v4
only; the v2 models get no `task`. Inputs per request are not in Jina's published
reference; the API's own validation errors give them: "Each input list can contain at
most 512 items" for jina-embeddings-v4 (langgenius/dify-official-plugins#1997) and
"largest allowed size 2048" otherwise (refly-ai/refly#831). Jina ships no official
client that reads a base-URL variable, so `EMBEDSTACK_JINA_BASE_URL` (or `base_url=`)
points it at a proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.encoders.hosted.openai import parse_openai
from embedstack.types import Kind

_TASK_MODELS = ("jina-embeddings-v3", "jina-embeddings-v4")


class JinaEncoder(HostedEncoder):
    """Jina AI `POST /v1/embeddings` (`jina:MODEL`)."""

    provider = "jina"
    key_env = ("JINA_API_KEY",)
    base_url_env = ("EMBEDSTACK_JINA_BASE_URL",)
    default_base_url = "https://api.jina.ai/v1"
    max_inputs = 2048
    dimensions_field = "dimensions"
    models: ClassVar[dict[str, ModelCard]] = {
        "jina-embeddings-v4": ModelCard(2048, 32_768, request_inputs=512, flexible_dims=True),
        "jina-embeddings-v3": ModelCard(1024, 8192, flexible_dims=True),
        "jina-embeddings-v2-base-en": ModelCard(768, 8192),
        "jina-embeddings-v2-base-code": ModelCard(768, 8192),
    }

    def _input_types(self) -> dict[Kind, str | None]:
        if self.model.startswith(_TASK_MODELS):
            return {Kind.QUERY: "retrieval.query", Kind.DOCUMENT: "retrieval.passage"}
        return super()._input_types()

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": texts,
            "embedding_type": "float",
            "truncate": self.truncate,
        }
        if self.input_types[kind]:
            body["task"] = self.input_types[kind]
        if self.requested_dims:
            body["dimensions"] = self.requested_dims
        return "/embeddings", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return parse_openai(payload)
