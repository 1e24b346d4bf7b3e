"""Ollama `POST /api/embed` on a local (or `OLLAMA_HOST`) server. No key is needed
locally; like the official `ollama` client, `OLLAMA_API_KEY` is sent as a bearer token
when set (for hosted Ollama).

Request: `{"model", "input": [...], "truncate": bool, "dimensions"?}`; response
`{"embeddings": [[...], ...], "prompt_eval_count"}`. Ollama truncates over-long input
by default; we send `truncate: false` unless the user asked, so nothing is silently cut.
Models such as nomic-embed-text expect task prefixes instead of an input-type field;
the table carries them and the encoder applies them. Ollama documents no limit on
inputs per request; 256 is our own bound to keep requests small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from embedstack.encoders.hosted.base import HostedEncoder, ModelCard
from embedstack.types import Kind


def _host(value: str) -> str:
    """`OLLAMA_HOST` may be `0.0.0.0:11434`, a bare host, or a full URL; the official
    client defaults the scheme to http and the port to 11434."""
    url = httpx.URL(value if "://" in value else f"http://{value}")
    host = "127.0.0.1" if url.host in ("", "0.0.0.0") else url.host
    port = url.port or (443 if url.scheme == "https" else 11434)
    return f"{url.scheme}://{host}:{port}{url.path.rstrip('/')}"


class OllamaEncoder(HostedEncoder):
    """A local or hosted Ollama server (`ollama:MODEL`)."""

    provider = "ollama"
    key_env = ("OLLAMA_API_KEY",)
    key_required = False
    base_url_env = ("OLLAMA_HOST",)
    default_base_url = "http://127.0.0.1:11434"
    max_inputs = 256
    dimensions_field = "dimensions"
    models: ClassVar[dict[str, ModelCard]] = {
        "nomic-embed-text": ModelCard(
            768,
            2048,
            flexible_dims=True,
            query_prefix="search_query: ",
            document_prefix="search_document: ",
        ),
        "mxbai-embed-large": ModelCard(
            1024,
            512,
            query_prefix="Represent this sentence for searching relevant passages: ",
        ),
        "all-minilm": ModelCard(384, 256),
        "bge-m3": ModelCard(1024, 8192),
        "snowflake-arctic-embed": ModelCard(1024, 512),
    }

    def __init__(self, model: str, *, base_url: str | None = None, **options: Any) -> None:
        raw = base_url or self._env(self.base_url_env)
        super().__init__(model, base_url=_host(raw) if raw else None, **options)

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "truncate": self.truncate}
        if self.requested_dims:
            body["dimensions"] = self.requested_dims
        return "/api/embed", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return payload["embeddings"], payload.get("prompt_eval_count")
