"""Rate limiting and retry timing for hosted APIs, kept free of I/O so both the sync and
the async client share them and tests drive them with a fake clock."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# 408 timeout, 409 lock conflict, 425 too early, 429 rate limited; every 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def is_retryable(status: int) -> bool:
    """Whether an HTTP status is worth another attempt."""
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms` (OpenAI), or `Retry-After`
    as seconds or an HTTP date. None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits in [d/2, d], d = base * 2**n
    capped at `cap`. A server's Retry-After wins over the schedule."""

    base: float = 0.5
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.cap, self.base * (2**attempt))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute token buckets.

    `reserve(tokens)` books capacity now and returns how long the caller must wait before
    sending, so concurrent callers queue fairly without holding the lock while they wait.
    A limit of None means unlimited.
    """

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.rpm, self.tpm, self._clock = rpm, tpm, clock
        self._lock = threading.Lock()
        self._last = clock()
        self._requests = float(rpm or 0)
        self._tokens = float(tpm or 0)

    def reserve(self, tokens: int) -> float:
        """Book one request of `tokens`; seconds to wait before sending it."""
        with self._lock:
            now = self._clock()
            elapsed, self._last = now - self._last, now
            wait = 0.0
            if self.rpm:
                self._requests = min(self.rpm, self._requests + elapsed * self.rpm / 60)
                self._requests -= 1
                wait = max(wait, -self._requests * 60 / self.rpm)
            if self.tpm:
                self._tokens = min(self.tpm, self._tokens + elapsed * self.tpm / 60)
                self._tokens -= tokens
                wait = max(wait, -self._tokens * 60 / self.tpm)
            return wait
