"""Cohere `POST /v2/embed`.

Request: `{"model", "texts": [...], "input_type": "search_query"|"search_document",
"embedding_types": ["float"], "truncate": "NONE"|"END", "output_dimension"?}`; response
`embeddings.float` (one list per text) and `meta.billed_units.input_tokens`. At most 96
texts per request. `truncate: NONE` makes the server refuse over-long texts instead of
silently cutting them, unless the user asked for truncation. The official SDK reads
`CO_API_KEY` and `CO_API_URL`; `COHERE_API_KEY` (the name most integrations use) is read
too, after `CO_API_KEY`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.types import Kind


class CohereEncoder(HostedEncoder):
    """Cohere `POST /v2/embed` (`cohere:MODEL`)."""

    provider = "cohere"
    key_env = ("CO_API_KEY", "COHERE_API_KEY")
    base_url_env = ("CO_API_URL",)
    default_base_url = "https://api.cohere.com"
    max_inputs = 96
    default_input_types: ClassVar[dict[Kind, str | None]] = {
        Kind.QUERY: "search_query",
        Kind.DOCUMENT: "search_document",
    }
    dimensions_field = "output_dimension"
    models: ClassVar[dict[str, ModelCard]] = {
        "embed-v4.0": ModelCard(1536, 128_000, flexible_dims=True),
        "embed-english-v3.0": ModelCard(1024, 512),
        "embed-multilingual-v3.0": ModelCard(1024, 512),
        "embed-english-light-v3.0": ModelCard(384, 512),
        "embed-multilingual-light-v3.0": ModelCard(384, 512),
    }

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "texts": texts,
            "input_type": self.input_types[kind],
            "embedding_types": ["float"],
            "truncate": "END" if self.truncate else "NONE",
        }
        if self.requested_dims:
            body["output_dimension"] = self.requested_dims
        return "/v2/embed", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        billed = ((payload.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
        return payload["embeddings"]["float"], billed
