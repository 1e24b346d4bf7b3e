"""Rate limiting, backoff and Retry-After parsing, driven by a fake clock."""

import email.utils
import random

import pytest

from embedstack.encoders.hosted.limits import Backoff, RateLimiter, is_retryable, parse_retry_after
from embedstack.encoders.hosted.tokens import TokenCounter, counter_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_bucket():
    clock = Clock()
    limiter = RateLimiter(rpm=60, clock=clock)
    assert [limiter.reserve(1) for _ in range(60)] == [0.0] * 60
    assert limiter.reserve(1) == pytest.approx(1.0)  # 61st request: one second later
    assert limiter.reserve(1) == pytest.approx(2.0)
    clock.now = 10.0
    assert limiter.reserve(1) == 0.0


def test_tokens_per_minute_bucket():
    clock = Clock()
    limiter = RateLimiter(tpm=6000, clock=clock)
    assert limiter.reserve(6000) == 0.0
    assert limiter.reserve(3000) == pytest.approx(30.0)
    clock.now = 60.0  # refilled by 6000, 3000 were owed
    assert limiter.reserve(3000) == 0.0


def test_unlimited_and_bad_limits():
    assert RateLimiter().reserve(10**9) == 0.0
    with pytest.raises(ValueError, match="rpm must be positive"):
        RateLimiter(rpm=0)


def test_backoff_grows_with_jitter_and_caps():
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(6)]
    for n, d in enumerate(delays):
        ceiling = min(8.0, 2**n)
        assert ceiling / 2 <= d <= ceiling
    assert backoff.delay(3, retry_after=42.0) == 42.0


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "5"}) == 5.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30.0)


def test_which_statuses_retry():
    assert all(is_retryable(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable(s) for s in (400, 401, 403, 404, 413, 422))


def test_token_counters():
    exact = counter_for("cl100k_base")
    assert exact.exact and exact.count(["hello world", "<|endoftext|>"]) == [2, 7]
    assert exact.truncate("one two three four", 2) == "one two"
    estimate = TokenCounter()
    assert estimate.count(["abcdef", "", "日本語"]) == [2, 1, 3]
    assert estimate.truncate("日本語です", 2) == "日本"
    assert counter_for(None).exact is False


def test_missing_offline_encoding_falls_back_to_the_estimate_with_a_note(monkeypatch, caplog):
    import tiktoken

    monkeypatch.setattr(tiktoken, "list_encoding_names", lambda: ["gpt2"])
    counter_for.cache_clear()
    try:
        with caplog.at_level("INFO"):
            counter = counter_for("cl100k_base")
        assert not counter.exact
        assert "conservative estimate" in caplog.text and "embedstack[hosted]" in caplog.text
    finally:
        counter_for.cache_clear()


def test_registry_knows_every_provider():
    from embedstack.encoders.hosted import PROVIDERS, provider_class
    from embedstack.registry import HOSTED_PROVIDERS

    assert set(HOSTED_PROVIDERS) == set(PROVIDERS)
    for name in PROVIDERS:
        assert provider_class(name).provider == name
