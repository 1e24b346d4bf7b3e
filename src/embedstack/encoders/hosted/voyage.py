"""Voyage AI `POST /v1/embeddings`.

Request: `{"model", "input": [...], "input_type": "query"|"document", "truncation":
bool, "output_dimension"?, "output_dtype": "float"}`; response in the OpenAI shape
(`data[i].embedding`, `data[i].index`, `usage.total_tokens`). Per the API reference
(docs.voyageai.com/reference/embeddings-api): at most 1,000 inputs per request and, summed
over them, 1M tokens for the lite models, 320K for voyage-3.5 / voyage-3, 120K for
voyage-3-large and voyage-code-3 (120K, the smallest, for models not listed here).
`truncation: false` refuses over-long inputs. The official client reads no base-URL
variable, so `EMBEDSTACK_VOYAGE_BASE_URL` (or `base_url=`) points it at a proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.encoders.hosted.openai import parse_openai
from embedstack.types import Kind


class VoyageEncoder(HostedEncoder):
    """Voyage AI `POST /v1/embeddings` (`voyage:MODEL`)."""

    provider = "voyage"
    key_env = ("VOYAGE_API_KEY",)
    base_url_env = ("EMBEDSTACK_VOYAGE_BASE_URL",)
    default_base_url = "https://api.voyageai.com/v1"
    max_inputs = 1000
    max_request_tokens = 120_000
    default_input_types: ClassVar[dict[Kind, str | None]] = {
        Kind.QUERY: "query",
        Kind.DOCUMENT: "document",
    }
    dimensions_field = "output_dimension"
    models: ClassVar[dict[str, ModelCard]] = {
        "voyage-3.5": ModelCard(1024, 32_000, 320_000, flexible_dims=True),
        "voyage-3.5-lite": ModelCard(1024, 32_000, 1_000_000, flexible_dims=True),
        "voyage-3-large": ModelCard(1024, 32_000, 120_000, flexible_dims=True),
        "voyage-code-3": ModelCard(1024, 32_000, 120_000, flexible_dims=True),
        "voyage-3": ModelCard(1024, 32_000, 320_000),
        "voyage-3-lite": ModelCard(512, 32_000, 1_000_000),
    }

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "input": texts,
            "input_type": self.input_types[kind],
            "truncation": self.truncate,
            "output_dtype": "float",
        }
        if self.requested_dims:
            body["output_dimension"] = self.requested_dims
        return "/embeddings", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return parse_openai(payload)
