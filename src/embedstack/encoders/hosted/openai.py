"""OpenAI `POST /v1/embeddings`, and the OpenAI-compatible servers that copy it.

Request: `{"model", "input": [...], "encoding_format": "base64", "dimensions"?}`; the
response's `data[i].embedding` is a base64 string of little-endian float32 (a quarter
of the JSON size of floats), `data[i].index` its input position and `usage.prompt_tokens`
the billed tokens. Limits (the API reference, as shipped in the official SDK's
`EmbeddingCreateParams`): 2048 inputs and 300,000 tokens summed per request, 8192
tokens per input (the table keeps 8191, one token of margin). The key and base URL
come from `OPENAI_API_KEY` / `OPENAI_BASE_URL`, as the official client reads them.
The v3 models accept `dimensions`; ada-002 does not. There is no query/document input
type: both sides share one vector space.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.types import Kind


def decode_vector(value: Any) -> Any:
    """A vector given as a float list, or as base64 of little-endian float32."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
    return value


def parse_openai(payload: Any) -> tuple[Sequence[Any], int | None]:
    """`data` sorted by `index`; `usage.prompt_tokens` (or `total_tokens`) when present."""
    data = sorted(payload["data"], key=lambda item: item["index"])
    indices = [item["index"] for item in data]
    if indices != list(range(len(data))):
        raise ValueError(f"response indices are not 0..n-1: {indices[:10]}")
    usage = payload.get("usage") or {}
    billed = usage.get("prompt_tokens", usage.get("total_tokens"))
    return [decode_vector(item["embedding"]) for item in data], billed


class OpenAIEncoder(HostedEncoder):
    """OpenAI and compatible servers (`openai:MODEL`)."""

    provider = "openai"
    key_env = ("OPENAI_API_KEY",)
    base_url_env = ("OPENAI_BASE_URL",)
    default_base_url = "https://api.openai.com/v1"
    max_inputs = 2048
    max_request_tokens = 300_000
    dimensions_field = "dimensions"
    tiktoken_encoding = "cl100k_base"
    models: ClassVar[dict[str, ModelCard]] = {
        "text-embedding-3-small": ModelCard(1536, 8191, flexible_dims=True),
        "text-embedding-3-large": ModelCard(3072, 8191, flexible_dims=True),
        "text-embedding-ada-002": ModelCard(1536, 8191),
    }

    def _body(self, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"input": texts, "encoding_format": "base64"}
        if self.requested_dims:
            body["dimensions"] = self.requested_dims
        return body

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        return "/embeddings", {"model": self.model, **self._body(texts)}

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return parse_openai(payload)
