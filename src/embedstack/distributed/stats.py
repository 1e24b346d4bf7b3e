"""Counts of a running job: rows/s overall and per worker, ETA, failed units.

Every row of the input ends up in exactly one bucket: `embedded` now, `skipped` (its
unit finished in an earlier run), `failed` (its unit failed this time; a re-run retries
it) or `invalid` (a bad line the loaders reject, named in `invalid_rows`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from embedstack.distributed.worker import UnitResult


@dataclass
class WorkerStats:
    """One worker's share of the job: units, rows and busy seconds."""

    units: int = 0
    rows: int = 0
    busy: float = 0.0  # seconds spent inside units

    @property
    def rate(self) -> float:
        """Rows per busy second for this worker (0 before any work)."""
        return self.rows / self.busy if self.busy else 0.0


@dataclass
class JobStats:
    """Running totals of an embedding job, for progress and the final report."""

    rows: int
    units: int
    skipped: int = 0
    skipped_units: int = 0
    embedded: int = 0
    failed: int = 0
    invalid: int = 0
    invalid_rows: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    workers: dict[str, WorkerStats] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Wall-clock seconds since the job started."""
        return time.perf_counter() - self.started

    @property
    def done(self) -> int:
        """Rows accounted for so far (the progress bar's position)."""
        return self.skipped + self.embedded + self.failed + self.invalid

    @property
    def rate(self) -> float:
        """Rows embedded per second of wall time in this run."""
        seconds = self.seconds
        return self.embedded / seconds if seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before any rows are embedded."""
        rate = self.rate
        return (self.rows - self.done) / rate if rate > 0 else None

    def record(self, result: UnitResult) -> None:
        """Add a finished (or failed) unit to the totals and its worker's stats."""
        worker = self.workers.setdefault(result.worker or "?", WorkerStats())
        worker.busy += result.seconds
        if result.error is not None:
            self.failed += result.planned
            self.failures.append({"unit": result.key, "error": result.error})
            return
        worker.units += 1
        worker.rows += result.rows
        self.embedded += result.rows
        self.invalid += result.planned - result.rows
        self.invalid_rows += result.invalid[: max(0, 100 - len(self.invalid_rows))]

    def summary(self) -> dict[str, Any]:
        """The `--json` summary: rows, embedded, skipped, failed, seconds, and details."""
        return {
            "rows": self.rows,
            "embedded": self.embedded,
            "skipped": self.skipped,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "invalid": self.invalid,
            "rows_per_second": round(self.rate, 1),
            "units": self.units,
            "skipped_units": self.skipped_units,
            "failed_units": self.failures,
            "invalid_rows": self.invalid_rows,
            "workers": {
                name: {"units": w.units, "rows": w.rows, "rows_per_second": round(w.rate, 1)}
                for name, w in sorted(self.workers.items())
            },
            **self.extra,
        }
