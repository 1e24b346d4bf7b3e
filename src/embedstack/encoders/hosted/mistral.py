"""Mistral `POST /v1/embeddings`.

Request: `{"model", "input": [...], "output_dtype": "float", "output_dimension"?}`;
response in the OpenAI shape with `usage.prompt_tokens`. mistral-embed accepts at most
128 inputs and 16,384 tokens per request (so batches are packed by tokens) and has no
query/document input type. Neither figure is in Mistral's published reference: 16,384
is what the API's own error states ("Too many tokens in batch. Max is 16384", quoted in
aurelio-labs/semantic-router#297 and dust-tt/dust#10654); 128 is a conservative bound.
There is no server-side truncation: `truncate=True` cuts texts locally. No base-URL
variable of the official client was found (it takes `server_url=`), so
`EMBEDSTACK_MISTRAL_BASE_URL` (or `base_url=`) overrides the endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.encoders.hosted.openai import parse_openai
from embedstack.types import Kind


class MistralEncoder(HostedEncoder):
    """Mistral `POST /v1/embeddings` (`mistral:MODEL`)."""

    provider = "mistral"
    key_env = ("MISTRAL_API_KEY",)
    base_url_env = ("EMBEDSTACK_MISTRAL_BASE_URL",)
    default_base_url = "https://api.mistral.ai/v1"
    max_inputs = 128
    max_request_tokens = 16_384
    dimensions_field = "output_dimension"
    models: ClassVar[dict[str, ModelCard]] = {
        "mistral-embed": ModelCard(1024, 8192),
        "codestral-embed": ModelCard(1536, 8192, flexible_dims=True),
    }

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "output_dtype": "float"}
        if self.requested_dims:
            body["output_dimension"] = self.requested_dims
        return "/embeddings", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return parse_openai(payload)
