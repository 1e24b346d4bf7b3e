"""What the collection commands print: progress, hits, and JSON that is always valid.

The library reports progress through `embedstack.progress.Progress` `(stage, done,
total)`; `embedstack.cli.progress_view` renders it (bars on a terminal, plain lines
elsewhere). Every string that comes from the user's data is escaped before rich sees it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from embedstack.types import Hit

# emoji=False: user text such as `notes.jsonl:100: bad line` must not become "notes.jsonl💯"
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)
SHOWN_BAD_ROWS = 5  # skipped inputs listed one by one; the rest are counted


def report_skipped(skipped: Sequence[object], shown: int = SHOWN_BAD_ROWS) -> None:
    """The inputs a loader skipped (on stderr): the first `shown`, then how many more."""
    if not skipped:
        return
    err.print(f"[yellow]skipped {len(skipped)}:[/]")
    for item in skipped[:shown]:
        err.print(f"  {escape(str(item))}", highlight=False, soft_wrap=True)
    if len(skipped) > shown:
        err.print(f"  ... and {len(skipped) - shown} more bad rows", highlight=False)


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
