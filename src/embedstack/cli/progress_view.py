"""The one renderer of the library's `(stage, done, total)` progress reports.

On a terminal each stage is a rich bar (with its total, rate and time left); anywhere
else (a pipe, a CI log, a test runner) a stage prints plain lines: when it starts, about
every `interval` seconds or each tenth of the work, and when it ends, each with the
count, the rate and the ETA. A stage reported with `total=None` is a notice (e.g.
"waiting for another writer (pid N)"): printed once. `--quiet` (global or per command)
turns all of it off. Every command renders progress through `progress_view`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from embedstack.progress import Progress as ProgressFn
from embedstack.progress import reporting

PLAIN_INTERVAL = 5.0  # seconds between two plain lines of one stage
PLAIN_STEP = 0.1  # ... or this fraction of the stage's total, whichever comes first
FEW_STEPS = 10  # stages with fewer steps (a model conversion) show no rate or ETA


_GLOBAL_QUIET = {"on": False}  # set by the root `embedstack --quiet` on every invocation


def set_global_quiet(value: bool) -> None:
    """Record the global `--quiet` flag (called by the root command on each run)."""
    _GLOBAL_QUIET["on"] = value


def quiet_requested() -> bool:
    """True when the global `embedstack --quiet` (or EMBEDSTACK_QUIET=1) is set."""
    return _GLOBAL_QUIET["on"] or os.environ.get("EMBEDSTACK_QUIET") == "1"


@dataclass
class _Stage:
    began: float
    last_line: float
    last_fraction: float = -1.0
    finished: bool = False
    done: int = 0
    total: int | None = None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class PlainProgress:
    """Plain progress lines for logs: counts, rate and ETA, never a carriage return."""

    console: Console
    interval: float = PLAIN_INTERVAL
    clock: Any = time.monotonic
    stages: dict[str, _Stage] = field(default_factory=dict)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Print a line if the stage is new, finished, a tenth further or due."""
        now = self.clock()
        state = self.stages.get(stage)
        if state is not None and total is not None and done < state.done:
            state = None  # the stage starts over (the next setup of a comparison)
        if state is None:
            state = self.stages[stage] = _Stage(began=now, last_line=now)
            self._line(stage, done, total, state, now)
            return
        state.done, state.total = done, total
        if total is None or state.finished:
            return  # a notice prints once; a finished stage stays finished
        fraction = done / total if total else 1.0
        due = now - state.last_line >= self.interval
        stepped = fraction - state.last_fraction >= PLAIN_STEP
        if done >= total or due or stepped:
            self._line(stage, done, total, state, now)

    def _line(self, stage: str, done: int, total: int | None, state: _Stage, now: float) -> None:
        state.last_line, state.done, state.total = now, done, total
        if total is None:
            self._print(f"{stage} ...")
            return
        state.last_fraction = done / total if total else 1.0
        elapsed = now - state.began
        parts = [f"{stage}: {done:,}/{total:,} ({100 * state.last_fraction:.0f}%)"]
        if done >= total:
            state.finished = True
            parts.append(f"done in {_duration(elapsed)}")
        elif done > 0 and elapsed > 0 and total >= FEW_STEPS:
            rate = done / elapsed
            parts.append(f"{rate:,.1f}/s, ETA {_duration((total - done) / rate)}")
        self._print(", ".join(parts))

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class BarProgress:
    """Rich bars on a terminal: one per stage, with its known total; notices print once."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}
        self.notices: set[str] = set()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Move the stage's bar (made on first report), or print a notice once."""
        if total is None and done == 0 and stage not in self.tasks:
            if stage not in self.notices:
                self.notices.add(stage)
                self.bar.console.print(f"[yellow]{escape(stage)}[/]", soft_wrap=True)
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(escape(stage), total=total)
        elif done < self.bar.tasks[self._index(stage)].completed:
            self.bar.reset(self.tasks[stage], total=total)  # the stage starts over
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def _index(self, stage: str) -> int:
        return [task.id for task in self.bar.tasks].index(self.tasks[stage])


def bar_columns() -> tuple[Any, ...]:
    """Stage, bar, done/total, time left: the same columns for every command."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )


@contextmanager
def progress_view(
    console: Console | None = None, *, enabled: bool = True, quiet: bool = False
) -> Iterator[ProgressFn | None]:
    """A progress callback for the library, drawn on `console` (stderr by default).

    Yields None when progress is off (`enabled=False`, e.g. under `--json`, or
    `--quiet`). While open it is also the ambient reporter (`embedstack.progress.
    reporting`), so one-off work deep in the library (model conversion, int8
    quantisation) shows up too."""
    if not enabled or quiet or quiet_requested():
        yield None
        return
    console = console or Console(stderr=True, emoji=False)
    if console.is_terminal:
        with Progress(*bar_columns(), console=console, transient=True) as bar:
            view: ProgressFn = BarProgress(bar)
            with reporting(view):
                yield view
        return
    plain = PlainProgress(console)
    with reporting(plain):
        yield plain
