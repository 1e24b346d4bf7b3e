"""Hugging Face Text Embeddings Inference `POST /embed` (self-hosted or an Inference
Endpoint; `HF_TOKEN` is sent as a bearer token when set). TEI has no client that
reads a server-URL variable, so the endpoint comes from `base_url=` or
`EMBEDSTACK_TEI_BASE_URL`.

Request: `{"inputs": [...], "truncate": bool, "normalize": true, "prompt_name"?}`;
response: a bare list of vectors. TEI's default `--max-client-batch-size` is 32 (its
CLI reference). The server knows the model, so the spec's model part
(`tei:BAAI/bge-small-en-v1.5`) names it for the embedding space; the dimension is probed
unless `dimensions` states it. Models with query/document prompts in their
sentence-transformers config are selected with `query_prompt=` / `document_prompt=`
(TEI's `prompt_name`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from embedstack.encoders.hosted.base import HostedEncoder
from embedstack.types import Kind


class TEIEncoder(HostedEncoder):
    """Hugging Face text-embeddings-inference servers (`tei:MODEL`)."""

    provider = "tei"
    key_env = ("HF_TOKEN",)
    key_required = False
    base_url_env = ("EMBEDSTACK_TEI_BASE_URL",)
    default_base_url = "http://127.0.0.1:8080"
    max_inputs = 32

    def __init__(
        self,
        model: str,
        *,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        **options: Any,
    ) -> None:
        self._prompts = {Kind.QUERY: query_prompt, Kind.DOCUMENT: document_prompt}
        super().__init__(model, **options)

    def _input_types(self) -> dict[Kind, str | None]:
        return dict(self._prompts)

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"inputs": texts, "truncate": self.truncate, "normalize": True}
        if self.input_types[kind]:
            body["prompt_name"] = self.input_types[kind]
        return "/embed", body

    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        return payload, None
