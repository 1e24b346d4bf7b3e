"""Writes of the apps' outputs (reports, FAQ state, HTML maps): the shared atomic write,
into a folder made on demand, readable by others like any ordinary output file."""

from __future__ import annotations

import os
from pathlib import Path

from embedstack.atomic import write_text


def atomic_write(path: Path, data: str) -> None:
    """Atomically replace `path` with UTF-8 `data` (mode 0644: temp files start 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, data)
    os.chmod(path, 0o644)
