"""Run a job's units in this process: the reference the Ray executor must match.

`workers` > 1 spreads each unit over the existing `ParallelEncoder` process pool;
hosted encoders stay one instance (their requests are I/O, spread by `concurrency`)
so the one shared limiter sees every request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from embedstack.distributed.budget import JobLimits, WorkerLimiter, hosted_core, share_limits
from embedstack.distributed.worker import (
    JobConfig,
    UnitResult,
    embed_unit,
    load_job_encoder,
    worker_name,
)
from embedstack.encoders.base import Encoder
from embedstack.text.shards import Unit


def run_local(
    units: Sequence[Unit],
    config: JobConfig,
    workers: int = 1,
    limits: JobLimits | None = None,
    encoder: Encoder | None = None,
) -> Iterator[UnitResult]:
    """Embed `units` one after another, yielding each result as it finishes (`encoder`:
    one the caller already loaded for `config`, to save loading it twice)."""
    encoder = encoder or load_job_encoder(config)
    parallel = None
    if workers > 1 and hosted_core(encoder) is None:
        from embedstack.registry import load_parallel

        parallel = load_parallel(config.spec, workers, **config.options)
        encoder = parallel
    if limits is not None:
        share_limits(encoder, WorkerLimiter(limits.reserve, worker_name()))
    try:
        for unit in units:
            yield embed_unit(unit, encoder, config)
    finally:
        if parallel is not None:
            parallel.close()
