"""Azure OpenAI: the OpenAI wire format on a per-deployment URL.

`POST {endpoint}/openai/deployments/{deployment}/embeddings?api-version=...` with an
`api-key` header. The spec names the deployment (`azure:my-embeddings`); pass
`model="text-embedding-3-small"` (the model deployed there) so the dimension, token
limit and price are known, otherwise the dimension is probed with one tiny request.
The key comes from `AZURE_OPENAI_API_KEY`, the endpoint from `AZURE_OPENAI_ENDPOINT` and
the version from `OPENAI_API_VERSION`, as the official `openai` client reads them; the
default version, 2024-10-21, is the GA data-plane inference release of the Azure OpenAI
REST reference.
"""

from __future__ import annotations

import os
from typing import Any

from embedstack.encoders.hosted.base import ModelCard
from embedstack.encoders.hosted.openai import OpenAIEncoder
from embedstack.types import Kind

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIEncoder(OpenAIEncoder):
    """Azure OpenAI deployments (`azure:DEPLOYMENT`)."""

    provider = "azure"
    key_env = ("AZURE_OPENAI_API_KEY",)
    base_url_env = ("AZURE_OPENAI_ENDPOINT",)
    default_base_url = ""

    def __init__(
        self,
        deployment: str,
        *,
        model: str | None = None,
        api_version: str | None = None,
        **options: Any,
    ) -> None:
        self.deployment = deployment
        self.deployed_model = model or deployment
        self.api_version = (
            api_version or os.environ.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION
        )
        super().__init__(deployment, **options)

    def _card(self) -> ModelCard | None:
        return self.models.get(self.deployed_model)

    def _headers(self) -> dict[str, str]:
        return {"api-key": self._api_key or ""}

    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        path = f"/openai/deployments/{self.deployment}/embeddings?api-version={self.api_version}"
        return path, self._body(texts)
