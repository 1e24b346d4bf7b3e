"""Hosted encoders in a job: cost dry run first, one budget and one rate limiter shared
by every worker (in one process, and across Ray actors), against the fake API."""

from __future__ import annotations

import pytest
from distributed_helpers import by_id, parquet_output
from fake_apis import KEY, base_url

from embedstack.distributed import embed_shards
from embedstack.distributed.budget import BudgetExceededError, JobLimits, WorkerLimiter

SPEC = "openai:text-embedding-3-small@8"


@pytest.fixture
def api(fake_server):
    fake_server.reset()
    return fake_server


def _options(api) -> dict:
    return {"base_url": base_url(api, "openai"), "api_key": KEY, "batch_size": 8}


def test_dry_run_prices_the_job_without_calling_the_api(api, corpus, tmp_path):
    summary = embed_shards(
        [corpus], tmp_path / "out", SPEC, options=_options(api), dry_run=True
    ).summary()
    cost = summary["cost"]
    assert cost["texts"] == 240 and cost["tokens"] > 0 and cost["usd"] > 0
    assert api.calls == []
    assert not (tmp_path / "out").exists()
    with pytest.raises(BudgetExceededError, match="over the budget"):
        embed_shards([corpus], tmp_path / "out", SPEC, options=_options(api), max_cost=1e-9)
    assert api.calls == []


def test_local_job_books_every_request_on_the_job_limits(api, corpus, tmp_path):
    summary = embed_shards(
        [corpus],
        tmp_path / "out",
        SPEC,
        options=_options(api),
        workers=2,
        rpm=100_000,
        unit_rows=60,
        max_cost=1.0,
    ).summary()
    assert summary["embedded"] == 240 and summary["failed"] == 0
    limits = summary["limits"]
    assert limits["requests"] == len(api.calls) > 0
    assert limits["tokens"] == summary["cost"]["tokens"]  # the dry run counted it right
    assert len(by_id(*parquet_output(tmp_path / "out"))) == 240


def test_ray_workers_share_one_rate_limiter(ray_cluster, api, corpus, tmp_path):
    summary = embed_shards(
        [corpus],
        tmp_path / "out",
        SPEC,
        options=_options(api),
        ray="auto",
        workers=2,
        rpm=100_000,
        tpm=10_000_000,
        unit_rows=20,
    ).summary()
    assert summary["embedded"] == 240 and summary["failed"] == 0
    limits = summary["limits"]
    # every request of every actor was booked on the one shared limiter
    assert limits["requests"] == len(api.calls)
    assert set(limits["by_worker"]) == set(summary["workers"])
    assert len(limits["by_worker"]) == 2
    assert limits["tokens"] == summary["cost"]["tokens"]


def test_job_limits_are_one_budget_and_one_bucket_for_all_workers():
    limits = JobLimits(rpm=60, max_usd=100 / 1e6, usd_per_million=1.0)  # 100 tokens
    first, second = WorkerLimiter(limits.reserve, "a"), WorkerLimiter(limits.reserve, "b")
    assert first.reserve(60) == 0.0
    with pytest.raises(BudgetExceededError, match="budget"):
        second.reserve(60)  # would be 120 tokens in all: refused, though b spent nothing
    assert second.reserve(40) == 0.0
    report = limits.report()
    assert (report["tokens"], report["requests"]) == (100, 2)
    assert report["by_worker"] == {
        "a": {"requests": 1, "tokens": 60},
        "b": {"requests": 1, "tokens": 40},
    }
    bucket = JobLimits(rpm=2)
    waits = [bucket.reserve(1, w) for w in ("a", "b", "a")]
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0  # the third request of the minute waits
    with pytest.raises(Exception, match="price"):
        JobLimits(max_usd=1.0)
