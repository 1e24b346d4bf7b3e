"""What a hosted embedding run will cost, before and after: `estimate_cost` for a dry run
(counts tokens locally, checks the cache, calls nothing) and `usage_cost` for what an
encoder has actually been billed.

Prices are data: `embedstack/data/prices.json`, overridden entry by entry by the JSON
file named in `EMBEDSTACK_PRICES` and then by an explicit `prices=` path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedstack.encoders.base import check_texts
from embedstack.encoders.cache import VectorCache, open_cache
from embedstack.encoders.hosted import PROVIDERS, provider_class, split_dimensions
from embedstack.errors import InputError
from embedstack.types import Kind

if TYPE_CHECKING:
    from embedstack.encoders.hosted.base import HostedEncoder

ENV_PRICES = "EMBEDSTACK_PRICES"


def _read_table(source: str | Path, text: str) -> dict[str, float]:
    try:
        table = json.loads(text)["per_million_tokens"]
        return {str(k): float(v) for k, v in table.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"price file {source} is not valid: it needs a JSON object with "
            f'"per_million_tokens": {{"provider:model": usd, ...}} ({exc})'
        ) from None


def load_prices(path: str | Path | None = None) -> dict[str, float]:
    """USD per million tokens by `provider:model`: shipped table < EMBEDSTACK_PRICES < path."""
    shipped = resources.files("embedstack").joinpath("data/prices.json").read_text("utf-8")
    prices = _read_table("embedstack/data/prices.json", shipped)
    for override in (os.environ.get(ENV_PRICES), path):
        if override:
            file = Path(override).expanduser()
            if not file.is_file():
                raise InputError(
                    f"price file {file} does not exist (from {ENV_PRICES} or --prices)"
                )
            prices.update(_read_table(file, file.read_text("utf-8")))
    return prices


def price_for(encoder: HostedEncoder, prices: Mapping[str, float]) -> float | None:
    """The price of the model behind `encoder` (Azure: the deployed model), if listed."""
    model = getattr(encoder, "deployed_model", encoder.model)
    for key in (f"{encoder.provider}:{model}", f"{encoder.provider}:*"):
        if key in prices:
            return prices[key]
    return None


@dataclass(frozen=True)
class CostEstimate:
    """A dry run's answer. `tokens` counts only texts that still need embedding."""

    spec: str
    texts: int
    cached: int | None
    to_embed: int
    tokens: int
    exact_tokens: bool
    requests: int
    usd_per_million: float | None
    usd: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the `--dry-run --json` shape)."""
        return asdict(self)

    def summary(self) -> str:
        """One human line: texts, tokens, requests and dollars."""
        how = "exact (tiktoken)" if self.exact_tokens else "estimated"
        cached = "" if self.cached is None else f", {self.cached} already cached"
        if self.usd is None:
            price = "price unknown: add it to a price file (--prices / EMBEDSTACK_PRICES)"
        else:
            price = f"${self.usd:.6f} at ${self.usd_per_million:g} per million tokens"
        return (
            f"{self.spec}: {self.texts} texts{cached}; {self.to_embed} to embed = "
            f"{self.tokens} tokens ({how}) in {self.requests} requests; {price}"
        )


def estimate_cost(
    spec: str,
    texts: Sequence[str],
    *,
    kind: Kind | str = Kind.DOCUMENT,
    cache: bool | str | Path | VectorCache = True,
    prices: str | Path | Mapping[str, float] | None = None,
    **options: Any,
) -> CostEstimate:
    """Tokens, requests and dollars for embedding `texts` with a hosted `spec`, without
    calling the API or needing its key. Texts over the model's limit raise
    `TruncationError` exactly as the real run would (pass truncate=True to count them cut).
    """
    provider, _, model = spec.partition(":")
    if provider not in PROVIDERS or not model:
        raise InputError(
            f"--dry-run estimates hosted models ('provider:model' with a provider in "
            f"{', '.join(PROVIDERS)}); {spec!r} runs locally and costs nothing per token"
        )
    items = check_texts(texts)
    kind = Kind.parse(kind)
    model, options = split_dimensions(provider, model, options)
    encoder = provider_class(provider)(model, offline=True, **options)
    cached: int | None = None
    pending = items
    if cache is not False and encoder.dim:
        found = open_cache(cache).get_many(encoder.cache_key(), kind, items)
        pending = list(dict.fromkeys(t for t, v in zip(items, found, strict=True) if v is None))
        cached = len(items) - sum(v is None for v in found)
    batches: list[list[int]] = []
    tokens: list[int] = []
    if pending:
        _, batches, tokens = encoder.plan(encoder.prefix(pending, kind))
    total = sum(tokens)
    table = prices if isinstance(prices, Mapping) else load_prices(prices)
    rate = price_for(encoder, table)
    return CostEstimate(
        spec=spec,
        texts=len(items),
        cached=cached,
        to_embed=len(pending),
        tokens=total,
        exact_tokens=encoder.counter.exact,
        requests=len(batches),
        usd_per_million=rate,
        usd=None if rate is None else total * rate / 1e6,
    )


def usage_cost(
    encoder: Any, prices: str | Path | Mapping[str, float] | None = None
) -> float | None:
    """Dollars billed so far by a hosted encoder (or a `CachedEncoder` around one)."""
    inner = getattr(encoder, "encoder", encoder)
    try:
        from embedstack.encoders.hosted.base import HostedEncoder
    except ImportError:  # without httpx (the hosted extra) no encoder is a hosted one
        return None
    if not isinstance(inner, HostedEncoder):
        return None
    table = prices if isinstance(prices, Mapping) else load_prices(prices)
    rate = price_for(inner, table)
    return None if rate is None else inner.usage.tokens * rate / 1e6
