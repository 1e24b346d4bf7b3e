"""The job manifest: what a job is (input, model, units) and which units are finished.

`job.json` fixes the job when it starts; each finished unit gets its own small file in
`done/`, written atomically after its output is durable. A re-run re-plans the input,
refuses it if it no longer matches `job.json`, and skips every unit with a done file.
One file per unit keeps recording O(1) however many units a 50M-row corpus has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedstack import atomic
from embedstack.distributed.worker import UnitResult
from embedstack.errors import InputError
from embedstack.text.shards import Plan
from embedstack.types import EmbeddingSpace

JOB = "job.json"
DONE = "done"
VERSION = 1


def describe(plan: Plan, fmt: str, space: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """The identity of a job: a re-run must match it to reuse finished units."""
    return {
        "version": VERSION,
        "format": fmt,
        "space": space,
        "files": plan.files,
        "units": len(plan.units),
        "rows": plan.rows,
        **settings,
    }


def _change(key: str, old: Any, new: Any) -> str:
    if key == "space" and isinstance(old, dict) and isinstance(new, dict):
        return "model " + ", ".join(
            EmbeddingSpace.from_dict(old).diff(EmbeddingSpace.from_dict(new))
        )
    if key == "files" and isinstance(old, dict) and isinstance(new, dict):
        names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return f"input files changed or differ: {', '.join(names[:5])}"
    return f"{key}: {old!r} -> {new!r}"


class JobState:
    """The state folder of one job (inside a Parquet DEST, beside a collection)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _recorded(self) -> dict[str, Any] | None:
        path = self.folder / JOB
        return json.loads(path.read_text("utf-8")) if path.exists() else None

    def matches(self, job: dict[str, Any]) -> bool:
        """True when this folder records `job` (the same input, model and settings)."""
        return self._recorded() == job

    def start(self, job: dict[str, Any]) -> None:
        """Record a new job, or check that a re-run is the same job."""
        old = self._recorded()
        if old is not None:
            changed = [k for k in sorted(set(old) | set(job)) if old.get(k) != job.get(k)]
            if changed:
                detail = "; ".join(_change(k, old.get(k), job.get(k)) for k in changed)
                raise InputError(
                    f"{self.folder} belongs to a different job ({detail[:400]}). Re-run with "
                    "the original input and settings, or write to a new destination."
                )
            return
        (self.folder / DONE).mkdir(parents=True, exist_ok=True)
        atomic.write_json(self.folder / JOB, job)

    def _done_path(self, index: int) -> Path:
        return self.folder / DONE / f"unit-{index:06d}.json"

    def finished(self) -> dict[int, UnitResult]:
        """Results of units recorded as finished, by unit index."""
        out = {}
        for path in sorted((self.folder / DONE).glob("unit-*.json")):
            result = UnitResult.from_dict(json.loads(path.read_text("utf-8")))
            out[result.index] = result
        return out

    def mark_done(self, result: UnitResult) -> None:
        """Record a finished unit so a re-run skips it."""
        (self.folder / DONE).mkdir(parents=True, exist_ok=True)
        atomic.write_json(self._done_path(result.index), result.to_dict(), indent=None)

    def forget(self, index: int) -> None:
        """Drop a unit's done record so the next run redoes it."""
        atomic.remove(self._done_path(index))
