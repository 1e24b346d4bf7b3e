"""The one progress protocol of the library core.

Long work (embedding, indexing, evaluation) reports `(stage, done, total)` through a
plain callable; the library never draws anything. The CLI renders it with rich on a
terminal and as periodic plain lines elsewhere.

Work that happens deep below any call that takes a `progress` argument (the one-off
conversion of a model to ONNX, its int8 quantisation) reports to the *ambient*
reporter instead: whatever callable the caller installed with `reporting(...)`
(nothing by default, so library users see nothing unless they ask).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Progress(Protocol):
    """Called as work advances: `stage` names the step, `total` is None when unknown."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Report that `done` of `total` units of `stage` are finished."""


_AMBIENT: ContextVar[Progress | None] = ContextVar("embedstack_progress", default=None)


def report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    """Call `progress` if there is one: saves every caller the `if progress` check."""
    if progress is not None:
        progress(stage, done, total)


def report_ambient(stage: str, done: int, total: int | None) -> None:
    """Report to the reporter installed with `reporting` (if any)."""
    report(_AMBIENT.get(), stage, done, total)


@contextmanager
def reporting(progress: Progress | None) -> Iterator[None]:
    """Make `progress` the ambient reporter inside the block (for `report_ambient`)."""
    token = _AMBIENT.set(progress)
    try:
        yield
    finally:
        _AMBIENT.reset(token)
