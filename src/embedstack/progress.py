"""The one progress protocol of the library core.

Long work (embedding, indexing, evaluation) reports `(stage, done, total)` through a
plain callable; the library never draws anything. The CLI renders it with rich on a
terminal and as periodic plain lines elsewhere.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called as work advances: `stage` names the step, `total` is None when unknown."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Report that `done` of `total` units of `stage` are finished."""


def report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    """Call `progress` if there is one: saves every caller the `if progress` check."""
    if progress is not None:
        progress(stage, done, total)
