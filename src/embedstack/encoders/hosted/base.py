"""`HostedEncoder`: one HTTP embedding API behind the `Encoder` contract.

The base class wires the shared parts together: configuration (`config`), token-aware
batching (`batching`), requests under one retry/pacing policy with a sync and an async driver
(`transport`, `retry`, `responses`), and concurrent requests handed back as each
lands (`streaming`). A provider module only says how to build its request body and
read its response.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, ClassVar

import httpx
import numpy as np

from embedstack.encoders.base import Batches, Encoder, check_texts
from embedstack.encoders.hosted.batching import plan_batches
from embedstack.encoders.hosted.config import (
    ModelCard,
    Usage,
    endpoint_tag,
    env_value,
    hosted_space,
    resolve_base_url,
    resolve_key,
    sendable_dimensions,
)
from embedstack.encoders.hosted.limits import Backoff, RateLimiter
from embedstack.encoders.hosted.retry import RetryPolicy
from embedstack.encoders.hosted.streaming import run_tasks, run_threads
from embedstack.encoders.hosted.tokens import TokenCounter, counter_for
from embedstack.encoders.hosted.transport import Request, Transport, offline_error
from embedstack.errors import InputError
from embedstack.types import Kind

log = logging.getLogger(__name__)

__all__ = ["HostedEncoder", "ModelCard", "Usage"]


class HostedEncoder(Encoder):
    """Base for every hosted provider. Options common to all of them:

    Args:
        model: the provider's model name (for Azure, the deployment name).
        api_key: overrides the key from the environment (`key_env`).
        base_url: overrides the endpoint (else the variable the official client reads,
            or `EMBEDSTACK_<PROVIDER>_BASE_URL` where the official client reads none).
        dimensions: ask for shorter vectors where the model supports it.
        truncate: cut texts over the model's input limit instead of refusing them.
        concurrency: requests in flight at once.
        rpm, tpm: requests / tokens per minute to stay under (None: unlimited).
        batch_size, max_batch_tokens: tighten the provider's per-request limits.
        timeout: seconds per request; max_retries: retries after the first attempt.
        backoff, max_backoff: retry schedule in seconds; seed: jitter seed.
        sleep, clock: injectable for tests (the async path runs `sleep` in a thread).
        offline: for dry runs: no key needed, no request ever made (an unknown model's
            dimension stays 0 instead of being probed).
    """

    provider: ClassVar[str]
    key_env: ClassVar[tuple[str, ...]] = ()
    key_required: ClassVar[bool] = True
    base_url_env: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""
    max_inputs: ClassVar[int] = 128
    max_request_tokens: ClassVar[int | None] = None
    default_input_types: ClassVar[dict[Kind, str | None]] = {Kind.QUERY: None, Kind.DOCUMENT: None}
    dimensions_field: ClassVar[str | None] = None
    tiktoken_encoding: ClassVar[str | None] = None
    models: ClassVar[dict[str, ModelCard]] = {}
    cache_each_batch = True  # every request costs money: cache each answer as it lands

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        truncate: bool = False,
        concurrency: int = 4,
        rpm: float | None = None,
        tpm: float | None = None,
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        seed: int | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        offline: bool = False,
    ) -> None:
        if not model:
            raise InputError(f"no model given: use '{self.provider}:MODEL'")
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise InputError("concurrency must be >= 1, max_retries >= 0 and timeout > 0")
        self.model = model
        self.offline = offline
        required = self.key_required and not offline
        self._api_key = resolve_key(self.provider, api_key, self.key_env, required)
        self.base_url = resolve_base_url(
            self.provider, base_url, self.base_url_env, self.default_base_url, offline
        )
        self.truncate = truncate
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.card = self._card()
        max_inputs = (self.card and self.card.request_inputs) or self.max_inputs
        self.batch_inputs = min(batch_size or max_inputs, max_inputs)
        request_tokens = (self.card and self.card.request_tokens) or self.max_request_tokens
        limits = [x for x in (max_batch_tokens, request_tokens) if x]
        self.batch_tokens = min(limits) if limits else None
        self.counter: TokenCounter = counter_for(self.tiktoken_encoding)
        self.usage = Usage()
        self.policy = RetryPolicy(
            self.provider,
            max_retries,
            Backoff(backoff, max_backoff, random.Random(seed)),
            RateLimiter(rpm, tpm, clock or time.monotonic),
            self.usage,
        )
        self.transport = Transport(
            self.provider,
            self.base_url,
            timeout,
            self.policy,
            self.usage,
            self._parse,
            self._redact,
            self.key_env,
            time.sleep if sleep is None else sleep,
        )
        self.input_types = self._input_types()
        label = f"{self.provider}:{self.model}"
        self.requested_dims = sendable_dimensions(
            label, dimensions, self.card, self.dimensions_field
        )
        self.max_tokens = self.card.max_tokens if self.card else None
        dim = dimensions or (self.card.dim if self.card else None)
        if dim is None:
            dim = 0 if offline else self._probe_dim()
        extra = {
            "input_type.query": self.input_types[Kind.QUERY] or "",
            "input_type.document": self.input_types[Kind.DOCUMENT] or "",
            **self._space_extra(),
        }
        self.space = hosted_space(self.provider, self.model, dim, self.card, extra)
        self.default_batch_size = self.batch_inputs

    # -- configuration -------------------------------------------------------------
    @staticmethod
    def _env(names: Iterable[str]) -> str | None:
        return env_value(names)

    def _input_types(self) -> dict[Kind, str | None]:
        """The provider's value for each side of retrieval (None: no such field)."""
        return dict(self.default_input_types)

    def _card(self) -> ModelCard | None:
        return self.models.get(self.model)

    def _space_extra(self) -> dict[str, str]:
        """Provider settings that change the vectors (subclasses add theirs)."""
        return {}

    def _probe_dim(self) -> int:
        """Unknown model and no `dimensions`: embed one word to learn the dimension."""
        log.info(
            "%s:%s is not in the model table; probing its dimension", self.provider, self.model
        )
        vectors = self._call(["dimension probe"], Kind.DOCUMENT, 2, expected_dim=None)
        return int(vectors.shape[1])

    def cache_key(self) -> str:
        """The space's key, plus the endpoint when it is not the provider's public one."""
        return self.space.key() + endpoint_tag(self.base_url, self.default_base_url)

    @property
    def spec(self) -> str:
        """The spec that rebuilds this encoder (a collection manifest stores it)."""
        size = f"@{self.requested_dims}" if self.requested_dims else ""
        return f"{self.provider}:{self.model}{size}"

    def __repr__(self) -> str:
        key = "set" if getattr(self, "_api_key", None) else "none"
        space = getattr(self, "space", None)
        return (
            f"{type(self).__name__}(model={getattr(self, 'model', '?')!r}, "
            f"dim={space.dim if space else '?'}, api_key=<{key}>)"
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    # -- provider hooks -------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    @abstractmethod
    def _request(self, texts: list[str], kind: Kind) -> tuple[str, dict[str, Any]]:
        """(path under base_url, JSON body) for one batch."""

    @abstractmethod
    def _parse(self, payload: Any) -> tuple[Sequence[Any], int | None]:
        """(one vector per input in input order, tokens billed or None) from a 2xx body."""

    # -- batching ---------------------------------------------------------------------
    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """Tokens per text: exact (tiktoken) for OpenAI models, a safe estimate elsewhere."""
        return self.counter.count(texts)

    def plan(
        self, texts: list[str], batch_size: int | None = None
    ) -> tuple[list[str], list[list[int]], list[int]]:
        """Check and pack texts: (texts, possibly truncated; batches of indices; tokens)."""
        if batch_size is not None and batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        return plan_batches(
            texts,
            label=f"{self.provider}:{self.model}",
            counter=self.counter,
            max_tokens=self.max_tokens,
            truncate=self.truncate,
            per_request=min(batch_size or self.batch_inputs, self.batch_inputs),
            tokens_per_request=self.batch_tokens,
        )

    def _jobs(
        self, texts: Sequence[str], kind: Kind, batch_size: int | None
    ) -> list[tuple[list[int], list[str], int]]:
        """(input indices, prefixed texts, tokens) per request."""
        prepared, batches, tokens = self.plan(self.prefix(check_texts(texts), kind), batch_size)
        return [(b, [prepared[i] for i in b], sum(tokens[i] for i in b)) for b in batches]

    # -- requests ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.transport.close()

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """One request for already-prefixed texts (with retries)."""
        return self._call(texts, kind, sum(self.count_tokens(texts)))

    def _build_request(
        self, texts: list[str], kind: Kind, tokens: int, expected_dim: int | None
    ) -> Request:
        if self.offline:
            raise offline_error(repr(self))
        path, body = self._request(texts, kind)
        dim = self.space.dim if expected_dim == -1 else expected_dim
        return Request(path, body, self._headers(), len(texts), dim, tokens)

    def _call(
        self, texts: list[str], kind: Kind, tokens: int, expected_dim: int | None = -1
    ) -> np.ndarray:
        return self.transport.call(self._build_request(texts, kind, tokens, expected_dim))

    async def _acall(
        self, client: httpx.AsyncClient, texts: list[str], kind: Kind, tokens: int
    ) -> np.ndarray:
        return await self.transport.acall(client, self._build_request(texts, kind, tokens, -1))

    # -- the two iterators ------------------------------------------------------------------
    def iter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> Batches:
        """Yield (input indices, raw vectors) per request as each answer lands, up to
        `concurrency` in flight, so the cache stores each one at once (see `streaming`)."""
        kind = Kind.parse(kind)
        jobs = [
            (idx, functools.partial(self._call, chunk, kind, n))
            for idx, chunk, n in self._jobs(texts, kind, batch_size)
        ]
        yield from run_threads(jobs, self.concurrency)

    async def aiter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> AsyncIterator[tuple[list[int], np.ndarray]]:
        """Async twin of `iter_encode` over `httpx.AsyncClient`."""
        kind = Kind.parse(kind)
        planned = self._jobs(texts, kind, batch_size)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            jobs = [
                (idx, functools.partial(self._acall, client, chunk, kind, n))
                for idx, chunk, n in planned
            ]
            async for item in run_tasks(jobs, self.concurrency):
                yield item
