"""What the collection commands print: progress, hits, and JSON that is always valid.

The library reports progress through `embedstack.progress.Progress` `(stage, done,
total)`; here it becomes a rich bar on stderr (stage "embedding") or a one-line notice
(any other stage, e.g. "waiting for another writer (pid N)").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from embedstack.progress import Progress as ProgressCallback
from embedstack.types import Hit

console = Console()
err = Console(stderr=True)


@contextmanager
def embedding_progress(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """A rich progress bar fed by `Collection.add/upsert(progress=...)` (on stderr)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    notices: set[str] = set()
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("embed", total=None)

        def update(stage: str, done: int, total: int | None) -> None:
            if stage == "embedding":
                bar.update(task, completed=done, total=total)
            elif stage not in notices:
                notices.add(stage)
                bar.console.print(f"[yellow]{escape(stage)}[/]", soft_wrap=True)

        yield update


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: such floats become null (never invalid output)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any, indent: int | None = 2) -> str:
    """`json.dumps` that never writes NaN or Infinity."""
    return json.dumps(_finite(data), ensure_ascii=False, indent=indent, allow_nan=False)


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as the JSON object the CLI prints."""
    return {"id": hit.id, "score": hit.score, "text": hit.text, "metadata": hit.metadata}


def print_hits(hits: list[Hit], title: str) -> None:
    """One line per hit: rank, score, id, the start of the text (cut to the terminal)."""
    console.print(f"[bold]{escape(title)}[/]", soft_wrap=True)
    for rank, hit in enumerate(hits, start=1):
        line = Text(f"{rank:>3}. {hit.score:7.4f}  ")
        line.append(hit.id, style="cyan")
        line.append("  " + " ".join(hit.text.split()))
        console.print(line, no_wrap=True, overflow="ellipsis")
