"""Check every comparison setup before any work, so a bad one fails in seconds, not after
the good ones have embedded for minutes.

Per setup: the retriever preset and its parameters parse; the price of a hosted model is
known; the model resolves. A local model is loaded (the run reuses it, so nothing is
loaded twice); a hosted one is built offline (options checked, no request), its API key
and endpoint must be set, and its endpoint must accept a TCP connection within
`REACH_TIMEOUT` seconds (skipped when a proxy is configured: the client goes through it).
Every problem is collected and reported together.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from embedstack.config import default_model_spec
from embedstack.encoders.base import Encoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.eval.presets import plan
from embedstack.eval.setups import SetupConfig
from embedstack.registry import HOSTED_PROVIDERS, load_encoder

REACH_TIMEOUT = 3.0


@dataclass
class CheckedSetup:
    """A setup that passed its checks: its token price and a local encoder loaded on the
    way (None for hosted models and setups without a dense encoder)."""

    config: SetupConfig
    price: float | None
    encoder: Encoder | None = None


def token_price(config: SetupConfig) -> float | None:
    """USD per million tokens for a hosted model (the config's own price, else the shipped
    price table, see `embedstack.encoders.hosted.cost`); None for a local model."""
    if config.usd_per_million_tokens is not None:
        return float(config.usd_per_million_tokens)
    provider, sep, model = (config.model or "").partition(":")
    if not sep or provider not in HOSTED_PROVIDERS:
        return None
    from embedstack.encoders.hosted.cost import ENV_PRICES, load_prices

    prices = load_prices()
    for key in (f"{provider}:{model}", f"{provider}:*"):
        if key in prices:
            return prices[key]
    raise InputError(
        f"config {config.name!r}: no price known for {config.model}; set "
        f"usd_per_million_tokens in the config or add it to a price file named by {ENV_PRICES}"
    )


def _hosted_endpoint(provider: str, model: str, options: dict[str, Any]) -> str:
    """Build the hosted encoder offline (checks its options) and return its endpoint;
    raises when the API key or endpoint is missing."""
    from embedstack.encoders.hosted import provider_class, split_dimensions
    from embedstack.encoders.hosted.config import resolve_base_url, resolve_key

    cls = provider_class(provider)
    name, options = split_dimensions(provider, model, dict(options))
    cls(name, **{**options, "offline": True})
    resolve_key(provider, options.get("api_key"), cls.key_env, cls.key_required)
    return resolve_base_url(
        provider, options.get("base_url"), cls.base_url_env, cls.default_base_url, False
    )


def _unreachable(urls: dict[str, str], timeout: float) -> dict[str, str]:
    """name -> why its endpoint cannot be reached; all probed at once."""
    found: dict[str, str] = {}
    threads = []

    def probe(name: str, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            found[name] = f"cannot reach {url} ({exc.strerror or exc}); is the server running?"

    for name, url in urls.items():
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname or ""
        if scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
            continue  # the client connects through the proxy: a direct probe says nothing
        thread = threading.Thread(target=probe, args=(name, url), daemon=True)
        thread.start()
        threads.append((name, url, thread))
    for name, url, thread in threads:
        thread.join(timeout + 1.0)
        if thread.is_alive():
            found.setdefault(name, f"cannot reach {url} within {timeout:.0f} s")
    return found


def _check_one(config: SetupConfig, sts: bool) -> tuple[CheckedSetup, str | None]:
    """The checked setup and, for a hosted model, the endpoint still to probe."""
    price = token_price(config)
    # STS embeds both sentences with the model whatever the retriever; retrieval only
    # needs it when the preset has a dense stage.
    dense = sts or plan(config.retriever, dict(config.params), config.model).dense
    if not dense:
        return CheckedSetup(config, price), None
    spec = config.model or default_model_spec()
    provider, sep, model = spec.partition(":")
    if sep and provider in HOSTED_PROVIDERS:
        return CheckedSetup(config, price), _hosted_endpoint(
            provider, model, config.encoder_options
        )
    return CheckedSetup(config, price, load_encoder(spec, **config.encoder_options)), None


def check_setups(
    configs: list[SetupConfig],
    *,
    sts: bool = False,
    problems: list[str] | None = None,
    reach_timeout: float = REACH_TIMEOUT,
) -> dict[str, CheckedSetup]:
    """Check every setup (see the module docstring); raise one `InputError` naming every
    bad setup (and any `problems` found before, e.g. an unreadable dataset)."""
    found = list(problems or [])
    checked: dict[str, CheckedSetup] = {}
    endpoints: dict[str, str] = {}
    for config in configs:
        try:
            setup, endpoint = _check_one(config, sts)
        except (EmbedstackError, OSError, ValueError) as exc:
            found.append(f"{config.name}: {exc}")
            continue
        except TypeError as exc:  # an option the encoder does not take
            found.append(f"{config.name}: unsupported encoder option ({exc})")
            continue
        checked[config.name] = setup
        if endpoint is not None:
            endpoints[config.name] = endpoint
    for name, reason in _unreachable(endpoints, reach_timeout).items():
        found.append(f"{name}: {reason}")
        checked.pop(name, None)
    if found:
        bad = len(configs) - len(checked)
        raise InputError(
            f"nothing was run: {len(found)} problem(s), {bad} of {len(configs)} setups "
            "cannot run; fix or drop them:\n" + "\n".join(f"  - {line}" for line in found)
        )
    return checked
