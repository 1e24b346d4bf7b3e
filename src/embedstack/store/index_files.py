"""Files of a saved secondary index: atomic writes, and loads that fail with the file
named and the command that rebuilds the index (shared by BM25 and SPLADE)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.atomic import write_json, write_npy
from embedstack.errors import CollectionError


def save_npy(path: Path, array: np.ndarray) -> None:
    """Atomic .npy write (unique temp file, fsync, rename)."""
    write_npy(path, np.asarray(array))


def save_json(path: Path, data: Any) -> None:
    """Atomic JSON write (unique temp file, fsync, rename)."""
    write_json(path, data, indent=None)


def load_npy(path: Path, fail: Callable, copy: bool = False) -> np.ndarray:
    """Load a saved array (memory-mapped unless copy), calling fail if missing or unreadable."""
    if not path.exists():
        fail(path, "missing")
    try:
        array = np.load(path, mmap_mode=None if copy else "r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        fail(path, f"unreadable ({exc})")
    return np.array(array) if copy else array


def load_json(path: Path, fail: Callable) -> Any:
    """Parse a saved JSON file, calling fail if missing or invalid."""
    if not path.exists():
        fail(path, "missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        fail(path, f"not valid JSON ({exc})")


def index_error(index: str, rebuild: str) -> Callable:
    """A `fail(path, problem)` callback raising the CollectionError users should see."""

    def fail(path: Path, problem: str) -> None:
        raise CollectionError(
            f"the {index} index file {path} is {problem}. Rebuild the index: {rebuild}"
        )

    return fail
