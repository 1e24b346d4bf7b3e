"""Google Gemini API `POST /v1beta/models/{model}:batchEmbedContents`.

Request: `{"requests": [{"model": "models/{model}", "content": {"parts": [{"text"}]},
"taskType": "RETRIEVAL_QUERY"|"RETRIEVAL_DOCUMENT", "outputDimensionality"?}, ...]}`
with the key in the `x-goog-api-key` header (never in the URL, where logs would keep
it); response `{"embeddings": [{"values": [...]}, ...]}` in request order, without a
usage field. At most 100 requests per batch (the API's limit, as stated by Google in
lancedb/lancedb#3618); 2,048 input tokens for gemini-embedding-001. Keys and base URL
come from the variables the official `google-genai` client reads: `GOOGLE_API_KEY`,
which wins over `GEMINI_API_KEY` when both are set, and `GOOGLE_GEMINI_BASE_URL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.types import Kind


class GeminiEncoder(HostedEncoder):
    """Google Gemini `batchEmbedContents` (`gemini:MODEL`)."""

    provider = "gemini"
    key_env = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    base_url_env = ("GOOGLE_GEMINI_BASE_URL",)
    default_base_url = "https://generativelanguage.googleapis.com"
    max_inputs = 100
    default_input_types: ClassVar[dict[Kind, str | None]] = {
        Kind.QUERY: "RETRIEVAL_QUERY",
        Kind.DOCUMENT: "RETRIEVAL_DOCUMENT",
    }
    dimensions_field = "outputDimensionality"
    models: ClassVar[dict[str, ModelCard]] = {
        "gemini-embedding-001": ModelCard(3072, 2048, flexible_dims=True),
        "text-embedding-004": ModelCard(768, 2048, flexible_dims=True),
    }

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key or ""}

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        requests = []
        for text in texts:
            item: dict[str, Any] = {
                "model": f"models/{self.model}",
                "content": {"parts": [{"text": text}]},
                "taskType": self.input_types[kind],
            }
            if self.requested_dims:
                item["outputDimensionality"] = self.requested_dims
            requests.append(item)
        return f"/v1beta/models/{self.model}:batchEmbedContents", {"requests": requests}

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return [item["values"] for item in payload["embeddings"]], None
