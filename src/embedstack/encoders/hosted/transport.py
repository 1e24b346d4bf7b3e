"""Sending one embedding request: HTTP (sync or async) under the retry policy, usage
accounting, and the response checks. Provider-neutral: the encoder hands in the path,
body, headers and parser its provider module built."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from embedstack.encoders.hosted import responses, retry
from embedstack.encoders.hosted.config import Usage
from embedstack.errors import ProviderError


@dataclass
class Request:
    """One batch as the provider wants it, plus what to check the answer against."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    n: int
    dim: int | None
    tokens: int


@dataclass
class Transport:
    """Posts requests to `base_url` with retries, counting usage; one per encoder."""

    provider: str
    base_url: str
    timeout: float
    policy: retry.RetryPolicy
    usage: Usage
    parse: responses.Parser
    redact: Callable[[str], str]
    key_env: tuple[str, ...]
    sleep: Callable[[float], None] = time.sleep
    _client: httpx.Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._asleep = retry.async_sleep(None if self.sleep is time.sleep else self.sleep)

    def _read(self, request: Request, response: httpx.Response) -> np.ndarray | retry.Retry:
        self.usage.add(requests=1)
        outcome = responses.interpret(
            response,
            provider=self.provider,
            n=request.n,
            dim=request.dim,
            parse=self.parse,
            redact=self.redact,
            key_env=self.key_env,
        )
        if isinstance(outcome, retry.Retry):
            return outcome
        vectors, billed = outcome
        estimated = request.tokens if billed is None else 0
        used = request.tokens if billed is None else int(billed)
        self.usage.add(texts=request.n, tokens=used, estimated_tokens=estimated)
        return vectors

    def _failure(self, exc: httpx.TransportError) -> retry.Retry:
        if isinstance(exc, httpx.TimeoutException):
            return retry.Retry(f"no answer within {self.timeout:g}s ({type(exc).__name__})")
        detail = f"{type(exc).__name__}: {self.redact(str(exc))}"
        return retry.Retry(f"cannot reach {self.base_url} ({detail})")

    def call(self, request: Request) -> np.ndarray:
        """Send `request` (retrying as the policy says) and return checked vectors."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        client, url = self._client, self.base_url + request.path

        def attempt() -> np.ndarray | retry.Retry:
            try:
                response = client.post(url, json=request.body, headers=request.headers)
            except httpx.TransportError as exc:
                return self._failure(exc)
            return self._read(request, response)

        return retry.call(self.policy, request.tokens, attempt, self.sleep)

    async def acall(self, client: httpx.AsyncClient, request: Request) -> np.ndarray:
        """Async `call` on a shared `httpx.AsyncClient`."""
        url = self.base_url + request.path

        async def attempt() -> np.ndarray | retry.Retry:
            try:
                response = await client.post(url, json=request.body, headers=request.headers)
            except httpx.TransportError as exc:
                return self._failure(exc)
            return self._read(request, response)

        return await retry.acall(self.policy, request.tokens, attempt, self._asleep)

    def close(self) -> None:
        """Close the sync connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


def offline_error(label: str) -> ProviderError:
    """What a dry-run encoder says when asked to call the API."""
    return ProviderError(f"{label} is offline (a dry run): it never calls the API")
