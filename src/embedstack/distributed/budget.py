"""One rate limit and one cost budget for every worker of a hosted-API job.

Each hosted encoder books capacity with `limiter.reserve(tokens)` before a request (see
`encoders/hosted/limits.py`). A job swaps every worker's limiter for one shared
`JobLimits`: in one process directly, on a cluster behind a Ray actor (see
`ray_executor.py`), so N workers together stay under the provider's rpm/tpm and the
job never spends more than `max_usd`, however many workers there are.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from embedstack.encoders.base import Encoder
from embedstack.encoders.hosted.limits import RateLimiter
from embedstack.errors import EmbedstackError, InputError


class BudgetExceededError(EmbedstackError):
    """The job's cost budget would be exceeded by the next request."""


class Reserver(Protocol):
    """Anything that books a request of some tokens and says how long to wait first."""

    def reserve(self, tokens: int) -> float:
        """Book a request of `tokens`; return the seconds to wait before sending it."""


@dataclass
class Spent:
    """Requests and tokens one worker has booked so far."""

    requests: int = 0
    tokens: int = 0


class JobLimits:
    """Token buckets (rpm/tpm) plus a dollar budget, shared by every worker of a job.

    `reserve(tokens, worker)` returns the seconds to wait before sending, or raises
    `BudgetExceededError` when the request would take spending over `max_usd`.
    """

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        max_usd: float | None = None,
        usd_per_million: float | None = None,
    ) -> None:
        if max_usd is not None and usd_per_million is None:
            raise InputError(
                "a cost budget needs the model's price: add it to a price file "
                "(--prices / EMBEDSTACK_PRICES)"
            )
        self.max_usd, self.usd_per_million = max_usd, usd_per_million
        self._rate = RateLimiter(rpm, tpm)
        self._lock = threading.Lock()
        self._spent: dict[str, Spent] = defaultdict(Spent)

    def _usd(self, tokens: int) -> float:
        return tokens * (self.usd_per_million or 0.0) / 1e6

    def reserve(self, tokens: int, worker: str = "") -> float:
        """Book a request for a worker; seconds to wait, or BudgetExceededError past max_usd."""
        with self._lock:
            total = sum(s.tokens for s in self._spent.values())
            if self.max_usd is not None and self._usd(total + tokens) > self.max_usd:
                raise BudgetExceededError(
                    f"the job's cost budget of ${self.max_usd:g} is spent "
                    f"(${self._usd(total):.6f} so far; the next request needs {tokens} "
                    "tokens): raise --max-cost and re-run to finish the remaining units"
                )
            spent = self._spent[worker]
            spent.requests += 1
            spent.tokens += tokens
        return self._rate.reserve(tokens)

    def report(self) -> dict[str, Any]:
        """Requests and tokens booked, overall and per worker, and dollars spent."""
        with self._lock:
            tokens = sum(s.tokens for s in self._spent.values())
            return {
                "requests": sum(s.requests for s in self._spent.values()),
                "tokens": tokens,
                "usd": None if self.usd_per_million is None else self._usd(tokens),
                "by_worker": {w: vars(s).copy() for w, s in self._spent.items()},
            }


class WorkerLimiter:
    """Stands in for a hosted encoder's own limiter: books on the shared limits."""

    def __init__(self, book: Any, worker: str) -> None:
        self._book, self._worker = book, worker

    def reserve(self, tokens: int) -> float:
        """Book the request on the job's shared limits; seconds to wait before sending."""
        wait: float = self._book(tokens, self._worker)
        return wait


def hosted_core(encoder: Encoder) -> Any:
    """The `HostedEncoder` inside `encoder` (unwrapping a cache), or None."""
    from embedstack.encoders.hosted import HostedEncoder

    inner = getattr(encoder, "encoder", encoder)
    return inner if isinstance(inner, HostedEncoder) else None


def share_limits(encoder: Encoder, limiter: Reserver) -> None:
    """Make a hosted encoder book every request on `limiter` instead of its own."""
    core = hosted_core(encoder)
    if core is None:
        return
    policy = getattr(core, "policy", None)
    if policy is None or not hasattr(policy, "limiter"):
        raise EmbedstackError(
            f"{type(core).__name__} has no rate limiter to share; this embedstack "
            "version cannot run hosted encoders in a distributed job"
        )
    policy.limiter = limiter  # the retry policy paces every request through it
