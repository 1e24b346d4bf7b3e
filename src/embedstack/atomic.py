"""Durable file writes, written once for the whole package.

Every write goes to a uniquely named temp file in the target's folder, is fsynced, then
renamed over the target, and the folder is fsynced: a crash leaves either the old file
or the complete new one, never a torn file, and two writers never share a temp name.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` survive power loss (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """fsync every file under `directory`, the folders themselves and its parent."""
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        else:
            fsync_dir(path)
    fsync_dir(directory)
    fsync_dir(directory.parent)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data` (unique temp name, fsync, rename, fsync dir)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """Atomically replace `path` with UTF-8 `text`."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any, *, indent: int | None = 2) -> None:
    """Atomically replace `path` with `data` as JSON (NaN/Infinity refused: not JSON)."""
    text = json.dumps(data, indent=indent, sort_keys=True, allow_nan=False)
    write_text(path, text + "\n")


def write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically replace `path` with `array` in `.npy` format (memory-mappable)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def remove(path: Path) -> None:
    """Delete a file or a folder if it exists (cleanup of superseded state)."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(OSError):  # e.g. mapped on Windows: removed later
        path.unlink(missing_ok=True)
