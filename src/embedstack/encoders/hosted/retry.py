"""One retry and pacing policy for hosted requests, with a sync and an async driver.

`RetryPolicy` decides everything: how long to wait before sending (the rate limiter),
whether an outcome is worth another attempt, how long to back off (a server's
Retry-After wins), and when to give up. The two drivers only run that loop with their
own kind of sleep: `call` blocks its thread, `acall` awaits, so the event loop is never
blocked (an injected test sleep runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from embedstack.encoders.hosted.config import Usage
from embedstack.encoders.hosted.limits import Backoff, RateLimiter
from embedstack.errors import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A Retry-After longer than this means "come back later", not "retry": fail instead.
MAX_RETRY_AFTER = 300.0


@dataclass
class Retry:
    """An attempt that failed in a way worth trying again, and why."""

    reason: str
    retry_after: float | None = None


@dataclass
class RetryPolicy:
    """Pacing, backoff and giving up for one provider (shared by both drivers)."""

    provider: str
    max_retries: int
    backoff: Backoff
    limiter: RateLimiter
    usage: Usage

    def wait_to_send(self, tokens: int) -> float:
        """Seconds to wait before the next request (books rpm/tpm capacity now)."""
        return self.limiter.reserve(tokens)

    def delay(self, attempt: int, retry: Retry) -> float | None:
        """Seconds to back off before retrying, or None when no attempt is left."""
        if attempt >= self.max_retries:
            return None
        delay = self.backoff.delay(attempt, retry.retry_after)
        if delay > MAX_RETRY_AFTER:
            raise ProviderError(
                f"{self.provider} asked to wait {delay:.0f}s before retrying ({retry.reason}); "
                "the quota is probably exhausted. Try again later or lower rpm/tpm."
            )
        self.usage.add(retries=1)
        log.warning("%s: %s; retrying in %.2fs", self.provider, retry.reason, delay)
        return delay

    def gave_up(self, retry: Retry) -> ProviderError:
        """The error after the last attempt failed."""
        return ProviderError(
            f"{self.provider} failed after {self.max_retries + 1} attempts: {retry.reason}. "
            "Try again later, lower concurrency/rpm/tpm, or raise max_retries."
        )


def call(
    policy: RetryPolicy,
    tokens: int,
    send: Callable[[], T | Retry],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `send` under `policy`, sleeping in this thread between attempts."""
    attempt = 0
    while True:
        wait = policy.wait_to_send(tokens)
        if wait > 0:
            sleep(wait)
        outcome = send()
        if not isinstance(outcome, Retry):
            return outcome
        delay = policy.delay(attempt, outcome)
        if delay is None:
            raise policy.gave_up(outcome)
        if delay > 0:
            sleep(delay)
        attempt += 1


async def acall(
    policy: RetryPolicy,
    tokens: int,
    send: Callable[[], Awaitable[T | Retry]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Async `call`: the same policy, awaiting between attempts."""
    attempt = 0
    while True:
        wait = policy.wait_to_send(tokens)
        if wait > 0:
            await sleep(wait)
        outcome = await send()
        if not isinstance(outcome, Retry):
            return outcome
        delay = policy.delay(attempt, outcome)
        if delay is None:
            raise policy.gave_up(outcome)
        if delay > 0:
            await sleep(delay)
        attempt += 1


def async_sleep(sleep: Callable[[float], None] | None) -> Callable[[float], Awaitable[None]]:
    """The async twin of an injected sleep: run it in a worker thread (never on the
    event loop); `asyncio.sleep` when none was injected."""
    if sleep is None:
        return asyncio.sleep

    async def pause(seconds: float) -> None:
        await asyncio.to_thread(sleep, seconds)

    return pause
