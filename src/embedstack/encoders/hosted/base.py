"""`HostedEncoder`: one HTTP embedding API behind the `Encoder` contract.

The base class owns everything providers share: keys and base URLs from the environment,
token-aware batching within the provider's documented limits, bounded concurrency (a
thread pool for `encode`, asyncio for `aencode`), rate limits, retries with backoff that
honour Retry-After, and validation of every response before a vector leaves this module.
A provider module only says how to build its request body and read its response.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import numpy as np

from embedstack.encoders.base import Encoder, check_texts, normalize_rows
from embedstack.encoders.hosted.batching import plan_batches
from embedstack.encoders.hosted.limits import Backoff, RateLimiter, is_retryable, parse_retry_after
from embedstack.encoders.hosted.responses import checked_vectors, error_message, read_json
from embedstack.encoders.hosted.tokens import TokenCounter, counter_for
from embedstack.errors import InputError, ProviderError
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)

# A Retry-After longer than this means "come back later", not "retry": fail instead.
MAX_RETRY_AFTER = 300.0


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

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class _Retry:
    reason: str
    retry_after: float | None = None


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
        sleep, clock: injectable for tests.
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
        self._api_key = self._resolve_key(api_key)
        self.base_url = (base_url or self._env(self.base_url_env) or self.default_base_url).rstrip(
            "/"
        )
        if not self.base_url and not offline:
            raise InputError(
                f"no endpoint for {self.provider}: set {' or '.join(self.base_url_env)} "
                "or pass base_url=..."
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
        self._usage_lock = threading.Lock()
        self._backoff = Backoff(backoff, max_backoff, random.Random(seed))
        self._sleep = sleep if sleep is not None else time.sleep
        self._custom_sleep = sleep is not None
        self._limiter = RateLimiter(rpm, tpm, clock or time.monotonic)
        self._client: httpx.Client | None = None
        self.input_types = self._input_types()
        self.requested_dims = self._check_dimensions(dimensions)
        self.max_tokens = self.card.max_tokens if self.card else None
        dim = dimensions or (self.card.dim if self.card else None)
        if dim is None:
            dim = 0 if offline else self._probe_dim()
        self.space = self._build_space(dim)
        self.default_batch_size = self.batch_inputs

    # -- configuration -------------------------------------------------------------
    @staticmethod
    def _env(names: Iterable[str]) -> str | None:
        return next((os.environ[n] for n in names if os.environ.get(n)), None)

    def _resolve_key(self, api_key: str | None) -> str | None:
        key = api_key or self._env(self.key_env)
        if not key and self.key_required and not self.offline:
            raise ProviderError(
                f"no API key for {self.provider}: set the environment variable "
                f"{' or '.join(self.key_env)} or pass api_key=..."
            )
        return key

    def _check_dimensions(self, dimensions: int | None) -> int | None:
        if dimensions is None:
            return None
        if dimensions <= 0:
            raise InputError(f"dimensions must be positive, got {dimensions}")
        card = self.card
        if card and not card.flexible_dims and dimensions != card.dim:
            raise InputError(
                f"{self.provider}:{self.model} always returns {card.dim}-d vectors; drop "
                "dimensions=... or pick a model that supports shorter outputs"
            )
        # a fixed-size model gets no dimensions field: it may not accept one
        sendable = self.dimensions_field and (card is None or card.flexible_dims)
        return dimensions if sendable else None

    def _input_types(self) -> dict[Kind, str | None]:
        """The provider's value for each side of retrieval (None: no such field)."""
        return dict(self.default_input_types)

    def _card(self) -> ModelCard | None:
        return self.models.get(self.model)

    def _space_extra(self) -> dict[str, str]:
        """Provider settings that change the vectors (subclasses add theirs)."""
        return {}

    def _build_space(self, dim: int) -> EmbeddingSpace:
        card = self.card or ModelCard(dim=dim)
        extra = {
            "provider": self.provider,
            "input_type.query": self.input_types[Kind.QUERY] or "",
            "input_type.document": self.input_types[Kind.DOCUMENT] or "",
            "dimensions": str(dim),
            **self._space_extra(),
        }
        return EmbeddingSpace(
            model=f"{self.provider}:{self.model}",
            dim=dim,
            fingerprint=f"{self.provider}:{self.model}",
            pooling="provider",
            normalize=True,
            query_prefix=card.query_prefix,
            document_prefix=card.document_prefix,
            max_tokens=card.max_tokens,
            extra=tuple(sorted(extra.items())),
        )

    def _probe_dim(self) -> int:
        """Unknown model and no `dimensions`: embed one word to learn the dimension."""
        log.info(
            "%s:%s is not in the model table; probing its dimension", self.provider, self.model
        )
        vectors = self._call(["dimension probe"], Kind.DOCUMENT, 2, expected_dim=None)
        return int(vectors.shape[1])

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

    # -- sync path ----------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self._call(texts, kind, sum(self.count_tokens(texts)))

    def _call(
        self, texts: list[str], kind: Kind, tokens: int, expected_dim: int | None = -1
    ) -> np.ndarray:
        if self.offline:
            raise ProviderError(f"{self!r} is offline (a dry run): it never calls the API")
        path, body = self._request(texts, kind)
        url = self.base_url + path
        retry = _Retry("no attempt was made")
        for attempt in range(self.max_retries + 1):
            self._pause(self._limiter.reserve(tokens))
            try:
                response = self._http().post(url, json=body, headers=self._headers())
            except httpx.TransportError as exc:
                outcome: np.ndarray | _Retry = _Retry(self._transport_reason(exc))
            else:
                outcome = self._outcome(response, len(texts), tokens, expected_dim)
            if not isinstance(outcome, _Retry):
                return outcome
            retry = outcome
            if attempt < self.max_retries:
                self._pause(self._retry_delay(attempt, retry))
        raise self._gave_up(retry)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def iter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """Yield (input indices, raw vectors) per finished request, up to `concurrency` in
        flight. Callers (the cache) can store each batch before the next one lands."""
        kind = Kind.parse(kind)
        prepared, batches, tokens = self.plan(self.prefix(check_texts(texts), kind), batch_size)
        jobs = [([prepared[i] for i in b], sum(tokens[i] for i in b)) for b in batches]
        if self.concurrency == 1 or len(batches) == 1:
            for batch, (chunk, n) in zip(batches, jobs, strict=True):
                yield batch, self._call(chunk, kind, n)
            return
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="embedstack-http") as pool:
            pending = {
                pool.submit(self._call, chunk, kind, n): b
                for b, (chunk, n) in zip(batches, jobs, strict=True)
            }
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        batch = pending.pop(future)
                        yield batch, future.result()
            finally:
                for future in pending:
                    future.cancel()

    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
    ) -> np.ndarray:
        """Embed texts with as few requests as the provider's limits allow."""
        items = check_texts(texts)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for idx, vectors in self.iter_encode(items, kind, batch_size):
            out[idx] = vectors
        if normalize if normalize is not None else self.space.normalize:
            out = normalize_rows(out)
        return out

    # -- async path ---------------------------------------------------------------------
    async def aiter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT
    ) -> AsyncIterator[tuple[list[int], np.ndarray]]:
        """Async twin of `iter_encode` over `httpx.AsyncClient`."""
        kind = Kind.parse(kind)
        prepared, batches, tokens = self.plan(self.prefix(check_texts(texts), kind))
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout) as client:

            async def run(batch: list[int]) -> tuple[list[int], np.ndarray]:
                async with gate:
                    chunk = [prepared[i] for i in batch]
                    n = sum(tokens[i] for i in batch)
                    return batch, await self._acall(client, chunk, kind, n)

            tasks = [asyncio.ensure_future(run(b)) for b in batches]
            try:
                for next_done in asyncio.as_completed(tasks):
                    yield await next_done
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def aencode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, normalize: bool | None = None
    ) -> np.ndarray:
        items = check_texts(texts)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        async for idx, vectors in self.aiter_encode(items, kind):
            out[idx] = vectors
        if normalize if normalize is not None else self.space.normalize:
            out = normalize_rows(out)
        return out

    async def _acall(
        self, client: httpx.AsyncClient, texts: list[str], kind: Kind, tokens: int
    ) -> np.ndarray:
        if self.offline:
            raise ProviderError(f"{self!r} is offline (a dry run): it never calls the API")
        path, body = self._request(texts, kind)
        retry = _Retry("no attempt was made")
        for attempt in range(self.max_retries + 1):
            await self._apause(self._limiter.reserve(tokens))
            try:
                response = await client.post(
                    self.base_url + path, json=body, headers=self._headers()
                )
            except httpx.TransportError as exc:
                outcome: np.ndarray | _Retry = _Retry(self._transport_reason(exc))
            else:
                outcome = self._outcome(response, len(texts), tokens, -1)
            if not isinstance(outcome, _Retry):
                return outcome
            retry = outcome
            if attempt < self.max_retries:
                await self._apause(self._retry_delay(attempt, retry))
        raise self._gave_up(retry)

    async def _apause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._custom_sleep:
            self._sleep(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    # -- responses ------------------------------------------------------------------------
    def _transport_reason(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer within {self.timeout:g}s ({type(exc).__name__})"
        return f"cannot reach {self.base_url} ({type(exc).__name__}: {self._redact(str(exc))})"

    def _retry_delay(self, attempt: int, retry: _Retry) -> float:
        delay = self._backoff.delay(attempt, retry.retry_after)
        if delay > MAX_RETRY_AFTER:
            raise ProviderError(
                f"{self.provider} asked to wait {delay:.0f}s before retrying ({retry.reason}); "
                "the quota is probably exhausted. Try again later or lower rpm/tpm."
            )
        with self._usage_lock:
            self.usage.retries += 1
        log.warning("%s: %s; retrying in %.2fs", self.provider, retry.reason, delay)
        return delay

    def _gave_up(self, retry: _Retry) -> ProviderError:
        reason = retry.reason
        return ProviderError(
            f"{self.provider} failed after {self.max_retries + 1} attempts: {reason}. "
            "Try again later, lower concurrency/rpm/tpm, or raise max_retries."
        )

    def _outcome(
        self, response: httpx.Response, n: int, tokens: int, expected_dim: int | None
    ) -> np.ndarray | _Retry:
        with self._usage_lock:
            self.usage.requests += 1
        status = response.status_code
        if status >= 300:
            message = self._redact(error_message(response))
            if is_retryable(status):
                return _Retry(f"HTTP {status}: {message}", parse_retry_after(response.headers))
            if status in (401, 403):
                where = (
                    f"the environment variable {' or '.join(self.key_env)}"
                    if self.key_env
                    else "api_key"
                )
                raise ProviderError(
                    f"{self.provider} refused the credentials (HTTP {status}): {message}. "
                    f"Check the key in {where}."
                )
            raise ProviderError(f"{self.provider} rejected the request (HTTP {status}): {message}")
        payload = read_json(response, self.provider)
        try:
            vectors, billed = self._parse(payload)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"{self.provider} answered in an unexpected shape ({type(exc).__name__}: "
                f"{exc}); nothing was stored"
            ) from None
        dim = self.space.dim if expected_dim == -1 else expected_dim
        array = checked_vectors(vectors, n, dim, self.provider)
        with self._usage_lock:
            self.usage.texts += n
            self.usage.tokens += tokens if billed is None else int(billed)
            self.usage.estimated_tokens += tokens if billed is None else 0
        return array
