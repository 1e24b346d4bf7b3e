"""What a hosted encoder is configured with: model cards, keys and endpoints from the
environment (as each provider's official client reads them), and the usage record."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from embedstack.errors import InputError, ProviderError
from embedstack.types import EmbeddingSpace


@dataclass(frozen=True)
class ModelCard:
    """What a provider documents about one model: native dimension, input token limit,
    tokens and inputs per request where they differ by model (else the provider's
    `max_request_tokens` / `max_inputs`), whether `dimensions` may shrink the output,
    and prompt prefixes the model expects."""

    dim: int
    max_tokens: int | None = None
    request_tokens: int | None = None
    request_inputs: int | None = None
    flexible_dims: bool = False
    query_prefix: str = ""
    document_prefix: str = ""


@dataclass
class Usage:
    """What this encoder has spent so far. `tokens` comes from the API's usage field where
    the provider reports one; `estimated_tokens` is the part we had to count ourselves."""

    requests: int = 0
    retries: int = 0
    texts: int = 0
    tokens: int = 0
    estimated_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: int) -> None:
        """Add to counters from any thread."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def to_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def env_value(names: Iterable[str]) -> str | None:
    """The first of these environment variables that is set and non-empty."""
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def resolve_key(
    provider: str, api_key: str | None, key_env: tuple[str, ...], required: bool
) -> str | None:
    """`api_key`, else the provider's variables; a clear error when one is needed."""
    key = api_key or env_value(key_env)
    if not key and required:
        raise ProviderError(
            f"no API key for {provider}: set the environment variable "
            f"{' or '.join(key_env)} or pass api_key=..."
        )
    return key


def resolve_base_url(
    provider: str, base_url: str | None, base_url_env: tuple[str, ...], default: str, offline: bool
) -> str:
    """`base_url`, else the provider's variables, else its public endpoint."""
    url = (base_url or env_value(base_url_env) or default).rstrip("/")
    if not url and not offline:
        raise InputError(
            f"no endpoint for {provider}: set {' or '.join(base_url_env)} or pass base_url=..."
        )
    return url


def endpoint_tag(base_url: str, default: str) -> str:
    """'' for the provider's public endpoint, else a short hash of the URL: cached vectors
    of one server are never served for another with the same model name."""
    if base_url == default.rstrip("/"):
        return ""
    return "@" + hashlib.sha256(base_url.encode("utf-8")).hexdigest()[:12]


def sendable_dimensions(
    label: str, dimensions: int | None, card: ModelCard | None, field_name: str | None
) -> int | None:
    """The `dimensions` value to send (None: send no such field), or an error."""
    if dimensions is None:
        return None
    if dimensions <= 0:
        raise InputError(f"dimensions must be positive, got {dimensions}")
    if card and not card.flexible_dims and dimensions != card.dim:
        raise InputError(
            f"{label} always returns {card.dim}-d vectors; drop dimensions=... or pick a "
            "model that supports shorter outputs"
        )
    # a fixed-size model gets no dimensions field: it may not accept one
    sendable = field_name and (card is None or card.flexible_dims)
    return dimensions if sendable else None


def hosted_space(
    provider: str, model: str, dim: int, card: ModelCard | None, extra: dict[str, str]
) -> EmbeddingSpace:
    """The embedding space of a hosted model: provider, model, input types, dimension."""
    card = card or ModelCard(dim=dim)
    fields = {"provider": provider, "dimensions": str(dim), **extra}
    return EmbeddingSpace(
        model=f"{provider}:{model}",
        dim=dim,
        fingerprint=f"{provider}:{model}",
        pooling="provider",
        normalize=True,
        query_prefix=card.query_prefix,
        document_prefix=card.document_prefix,
        max_tokens=card.max_tokens,
        extra=tuple(sorted(fields.items())),
    )
