"""Hosted embedding APIs behind the `Encoder` interface: `load_hosted("openai", "...")`.

`PROVIDERS` (the catalog's `HOSTED_PROVIDERS`) maps each spec prefix to the class that
speaks its wire format; modules are imported only when used. By default every hosted
encoder is wrapped in a `CachedEncoder`, so a text is paid for once per embedding space
and endpoint.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack._optional import require
from embedstack.catalog import HOSTED_PROVIDERS
from embedstack.encoders.base import Encoder
from embedstack.encoders.cache import CachedEncoder, VectorCache, open_cache
from embedstack.errors import InputError, ModelNotFoundError

if TYPE_CHECKING:
    from embedstack.encoders.hosted.base import HostedEncoder, ModelCard, Usage

PROVIDERS: dict[str, str] = HOSTED_PROVIDERS
_BASE_NAMES = ("HostedEncoder", "ModelCard", "Usage")


def __getattr__(name: str) -> Any:
    # The wire classes need httpx (the `hosted` extra); token counting, limits and the
    # price table in this package do not, so they stay importable without it.
    if name in _BASE_NAMES:
        require("httpx", "hosted", "hosted embedding APIs")
        return getattr(importlib.import_module("embedstack.encoders.hosted.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROVIDERS",
    "HostedEncoder",
    "ModelCard",
    "Usage",
    "load_hosted",
    "provider_class",
    "split_dimensions",
]


def provider_class(provider: str) -> type[HostedEncoder]:
    """The encoder class for a provider name, e.g. `provider_class("cohere")`."""
    target = PROVIDERS.get(provider)
    if target is None:
        raise ModelNotFoundError(
            f"unknown hosted provider {provider!r}; known: {', '.join(PROVIDERS)}"
        )
    require("httpx", "hosted", f"the {provider} API")
    module, attr = target.split(":")
    cls: type[HostedEncoder] = getattr(importlib.import_module(module), attr)
    return cls


def split_dimensions(
    provider: str, model: str, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`model@DIM` -> (`model`, options with dimensions=DIM)."""
    name, at, size = model.rpartition("@")
    if not at:
        return model, options
    if not size.isdigit():
        raise InputError(f"in {provider}:{model}, the part after @ must be a dimension")
    if options.get("dimensions") not in (None, int(size)):
        raise InputError(f"{provider}:{model} conflicts with dimensions={options['dimensions']}")
    return name, {**options, "dimensions": int(size)}


def load_hosted(
    provider: str,
    model: str,
    /,
    *,
    cache: bool | str | Path | VectorCache = True,
    **options: Any,
) -> Encoder:
    """Build a hosted encoder; `options` go to the provider class (see `HostedEncoder`).

    Args:
        provider, model: the two halves of a spec such as `cohere:embed-v4.0`; a model
            ending in `@DIM` (`openai:text-embedding-3-small@512`) asks for DIM dimensions.
        cache: True (default) for the shared cache in the user cache dir, a path (a
            SQLite file or a shard folder, see `open_cache`), a `VectorCache`, or False to
            call the API every time.
    """
    model, options = split_dimensions(provider, model, options)
    encoder = provider_class(provider)(model, **options)
    if cache is False:
        return encoder
    return CachedEncoder(encoder, open_cache(cache))
