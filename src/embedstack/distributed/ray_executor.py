"""Run a job's units on a Ray cluster: Ray Data `map_batches` over an actor pool.

Each actor loads the encoder once and embeds whole units with the same `embed_unit` as
the local executor, writing its shard itself; only unit descriptions and small results
cross the object store, so the driver is never the bottleneck. Ray Data restarts an
actor whose process dies and retries its unit there (its shard name is fixed, so the
redo replaces any partial output). Hosted encoders share one `JobLimits` actor.

This is the only module of embedstack that imports `ray`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from embedstack._optional import require
from embedstack.distributed.budget import JobLimits, WorkerLimiter, share_limits
from embedstack.distributed.worker import (
    JobConfig,
    UnitResult,
    embed_unit,
    load_job_encoder,
    worker_name,
)
from embedstack.errors import EmbedstackError
from embedstack.text.shards import Unit

log = logging.getLogger(__name__)
LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # only unit descriptions and results pass through it


def _ray() -> Any:
    return require("ray", "distributed", "embed-corpus --ray")


def connect(address: str) -> bool:
    """Join a cluster ("auto": the running one, else a new local one; "local": always a
    new local one; anything else: that address). Returns True if we must shut it down."""
    ray = _ray()
    if ray.is_initialized():
        return False
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    local = {
        **common,
        "num_cpus": os.cpu_count() or 1,
        "include_dashboard": False,
        "object_store_memory": LOCAL_OBJECT_STORE,
    }
    if address == "local":
        ray.init(**local)
    elif address == "auto":
        try:
            ray.init(address="auto", **common)
        except ConnectionError:
            log.info("no running Ray cluster found: starting a local one")
            ray.init(**local)
    else:
        try:
            ray.init(address=address, **common)
        except ConnectionError as exc:
            raise EmbedstackError(
                f"cannot reach the Ray cluster at {address} ({exc}); check the address, "
                "or use --ray local"
            ) from None
    return True


class _UnitActor:
    """A Ray Data actor: one loaded encoder, one unit per call."""

    def __init__(self, config: dict[str, Any], limits: Any = None) -> None:
        self.config = JobConfig.from_dict(config)
        self.error: str | None = None
        try:
            self.encoder = load_job_encoder(self.config)
        except Exception as exc:  # e.g. weights missing on this node: fail its units, clearly
            self.error = f"worker {worker_name()} cannot load {self.config.spec!r}: {exc}"
            return
        if limits is not None:
            ray = _ray()

            def book(tokens: int, worker: str) -> float:
                try:
                    wait: float = ray.get(limits.reserve.remote(tokens, worker))
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, EmbedstackError):
                        raise cause from None
                    raise
                return wait

            share_limits(self.encoder, WorkerLimiter(book, worker_name()))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        results = []
        for raw in batch["unit"]:
            unit = Unit.from_dict(json.loads(str(raw)))
            if self.error is not None:
                failed = UnitResult(unit.index, unit.key, unit.rows, worker=worker_name())
                failed.error = self.error
                results.append(json.dumps(failed.to_dict()))
                continue
            results.append(json.dumps(embed_unit(unit, self.encoder, self.config).to_dict()))
        return {"result": results}


class RayRun:
    """One job's pass over the cluster; `limits_report()` reads the shared limiter."""

    def __init__(self, address: str, workers: int, limits: JobLimits | None = None) -> None:
        self.ray = _ray()
        self.owned = connect(address)
        self.workers = workers
        self.limits: Any = None
        if limits is not None:
            actor = self.ray.remote(num_cpus=0)(JobLimits)
            name = f"embedstack-limits-{uuid.uuid4().hex[:8]}"
            self.limits = actor.options(name=name).remote(
                limits._rate.rpm, limits._rate.tpm, limits.max_usd, limits.usd_per_million
            )

    def run(self, units: Sequence[Unit], config: JobConfig) -> Iterator[UnitResult]:
        """Run the units on a pool of Ray actors, yielding each unit's result."""
        if not units:
            return
        data = require("ray.data", "distributed", "embed-corpus --ray")
        context = data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        items = [{"unit": json.dumps(u.to_dict())} for u in units]
        dataset = data.from_items(items, override_num_blocks=len(items))
        results = dataset.map_batches(
            _UnitActor,
            fn_constructor_kwargs={"config": config.to_dict(), "limits": self.limits},
            batch_size=1,
            compute=data.ActorPoolStrategy(size=self.workers),
            num_cpus=min(1.0, cpus / self.workers),
        )
        for row in results.iter_rows():
            yield UnitResult.from_dict(json.loads(row["result"]))

    def limits_report(self) -> dict[str, Any] | None:
        """The shared limits' spending report, or None when the job has no limits."""
        if self.limits is None:
            return None
        report: dict[str, Any] = self.ray.get(self.limits.report.remote())
        return report

    def close(self) -> None:
        """Stop the limits actor and shut Ray down if this run started it."""
        if self.limits is not None:
            self.ray.kill(self.limits)
        if self.owned:
            self.ray.shutdown()
