"""`embed_shards`: embed a corpus of JSONL/Parquet shards, resumably, in one process or
on a Ray cluster, into Parquet shards or a collection.

The driver plans deterministic units, skips those the job manifest records as finished,
hands the rest to an executor (in-process, or Ray Data actors) and records each unit
once its output is durable. Killing a worker loses its unit (Ray retries it); killing
the driver loses the units in flight; a re-run redoes exactly those. Both executors
run the same `embed_unit`, so their outputs are identical.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from embedstack.config import default_model_spec
from embedstack.distributed.budget import BudgetExceededError, JobLimits, hosted_core
from embedstack.distributed.local import run_local
from embedstack.distributed.sinks import existing_spec, open_sink, resolve_format, state_folder
from embedstack.distributed.state import JobState, describe
from embedstack.distributed.stats import JobStats
from embedstack.distributed.worker import JobConfig, UnitResult, shard_name
from embedstack.encoders.base import Encoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.progress import Progress, report
from embedstack.text.loaders import Fields
from embedstack.text.shards import Plan, Unit, plan_units, read_unit

log = logging.getLogger(__name__)
OnUnit = Callable[[UnitResult, JobStats], None]


def _driver_encoder(spec: str, options: dict[str, Any]) -> Encoder:
    from embedstack.registry import HOSTED_PROVIDERS, load_encoder

    if spec.partition(":")[0] in HOSTED_PROVIDERS:
        options = {"cache": False, **options}
    return load_encoder(spec, **options)


def _dry_run(
    spec: str, units: Sequence[Unit], fields: Fields, prices: Any, options: dict[str, Any]
) -> Any:
    """Tokens and dollars for the units still to do, counted locally before any request."""
    from embedstack.encoders.hosted.cost import estimate_cost

    texts = [doc.text for unit in units for doc in read_unit(unit, fields)[0]]
    extra = {k: v for k, v in options.items() if k != "cache"}
    return estimate_cost(spec, texts, cache=False, prices=prices, **extra)


def _limits(
    spec: str, pending: Sequence[Unit], fields: Fields, stats: JobStats, settings: dict[str, Any]
) -> JobLimits:
    estimate = _dry_run(spec, pending, fields, settings["prices"], settings["options"])
    stats.extra["cost"] = estimate.to_dict()
    log.info("cost estimate: %s", estimate.summary())
    budget = settings["max_cost"]
    if budget is not None and estimate.usd is not None and estimate.usd > budget:
        raise BudgetExceededError(
            f"the dry run estimates ${estimate.usd:.6f} for {estimate.tokens} tokens, over "
            f"the budget of ${budget:g} (--max-cost): raise it or embed fewer files"
        )
    return JobLimits(settings["rpm"], settings["tpm"], budget, estimate.usd_per_million)


def _pending(
    plan: Plan, state: JobState, sink: Any, stats: JobStats, job: dict[str, Any]
) -> list[Unit]:
    """Units not yet finished (a dry run, with no sink, trusts the manifest alone)."""
    finished = state.finished() if state.matches(job) else {}
    pending = []
    for unit in plan.units:
        done = finished.get(unit.index)
        if done and done.key == unit.key and (sink is None or sink.output_exists(done.file)):
            stats.skipped += unit.rows
            stats.skipped_units += 1
        else:
            pending.append(unit)
    return pending


def embed_shards(
    src: Sequence[str | Path],
    dest: str | Path,
    model: str | None = None,
    *,
    fmt: str | None = None,
    ray: str | None = None,
    workers: int = 1,
    batch_size: int | None = None,
    unit_rows: int = 1000,
    text_field: str = "text",
    id_field: str = "id",
    state: str | Path | None = None,
    options: dict[str, Any] | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    max_cost: float | None = None,
    prices: str | Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_unit: OnUnit | None = None,
) -> JobStats:
    """Embed every row of the .jsonl/.parquet files under `src` into `dest`.

    `ray` None runs in this process (`workers` > 1: the parallel encoder); "auto",
    "local" or a cluster address runs `workers` Ray actors. A re-run skips finished
    units. Hosted models get a cost dry run first, `max_cost` (USD) as a budget and
    `rpm`/`tpm` limits shared by all workers. `dry_run` plans (and prices) only.
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    dest, options = str(dest), dict(options or {})
    plan = plan_units(src, unit_rows)
    fmt = resolve_format(dest, fmt)
    spec = model or existing_spec(dest, fmt) or default_model_spec()
    encoder = _driver_encoder(spec, options)
    hosted = hosted_core(encoder) is not None
    if not hosted and (max_cost is not None or rpm is not None or tpm is not None):
        raise InputError(f"--max-cost/--rpm/--tpm apply to hosted models, not {spec!r}")
    space = encoder.space.to_dict()
    job = describe(plan, fmt, space, unit_rows=unit_rows, fields=[text_field, id_field])
    fields = Fields(text=text_field, id=id_field)
    settings = {"rpm": rpm, "tpm": tpm, "max_cost": max_cost, "prices": prices}
    stats = JobStats(rows=plan.rows, units=len(plan.units), extra={"format": fmt})
    if dry_run:  # plan and price only: nothing is created or written
        job_state = JobState(state_folder(dest, fmt, state))
        pending = _pending(plan, job_state, None, stats, job)
        if hosted:
            _limits(spec, pending, fields, stats, {**settings, "options": options})
        stats.extra["pending_units"] = len(pending)
        return stats
    sink = open_sink(dest, fmt, encoder if options else spec, state)  # options: in its space
    run = None
    try:
        sink.check_space(encoder.space)
        job_state = JobState(sink.state_dir)
        job_state.start(job)
        pending = _pending(plan, job_state, sink, stats, job)
        limits = None
        if hosted:
            limits = _limits(spec, pending, fields, stats, {**settings, "options": options})
        stats.extra["pending_units"] = len(pending)
        config = JobConfig(
            spec, space, str(sink.out_dir), options, text_field, id_field, batch_size, sink.staged
        )
        results: Iterator[UnitResult]
        if ray is None:
            results = run_local(pending, config, workers, limits, encoder)
        else:
            from embedstack.distributed.ray_executor import RayRun

            run = RayRun(ray, workers, limits)
            results = run.run(pending, config)
        for result in results:
            _finish_unit(result, plan.units[result.index], sink, job_state, stats)
            report(progress, "embed", stats.done, stats.rows)
            if on_unit is not None:
                on_unit(result, stats)
        if run is not None:
            stats.extra["limits"] = run.limits_report()
        elif limits is not None:
            stats.extra["limits"] = limits.report()
        if not stats.failures:
            stats.extra.update(sink.finish([shard_name(u) for u in plan.units]))
        return stats
    finally:
        if run is not None:
            run.close()
        sink.close()


def _finish_unit(
    result: UnitResult, unit: Unit, sink: Any, state: JobState, stats: JobStats
) -> None:
    """Make a finished unit's output final, then record it; a failure is reported."""
    if result.error is None and result.file is not None:
        try:
            sink.commit(unit, result.file)
        except EmbedstackError as exc:
            result.error = f"storing the unit failed: {exc}"
        else:
            state.mark_done(result)
    if result.error is not None:
        log.warning("unit %s failed on %s: %s", result.key, result.worker, result.error)
    stats.record(result)
