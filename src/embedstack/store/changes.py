"""What one write changes, validated before anything touches the disk.

`ChangeSet` is the unit the collection commits atomically: new rows (with their
vectors), rows to tombstone, and metadata edits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.errors import InputError


def content_hash(text: str) -> str:
    """SHA-256 of the text, used to skip re-embedding unchanged rows."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Record:
    """One stored row: id, text, metadata and vector."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: np.ndarray


@dataclass
class UpsertReport:
    """Which ids were new, re-embedded because their text changed, or left alone."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    metadata_only: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def embedded(self) -> int:
        """Rows that were (re-)embedded: added plus updated."""
        return len(self.added) + len(self.updated)

    def to_dict(self) -> dict[str, Any]:
        """Counts per outcome, for JSON output."""
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "metadata_only": len(self.metadata_only),
            "unchanged": len(self.unchanged),
            "embedded": self.embedded,
        }


def check_metadata(metadata: Sequence[dict[str, Any]] | None, n: int) -> list[dict[str, Any]]:
    """One JSON-serialisable metadata dict per text ({} each if none given)."""
    if metadata is None:
        return [{} for _ in range(n)]
    items = list(metadata)
    if len(items) != n:
        raise InputError(f"got {len(items)} metadata dicts for {n} texts: give one per text")
    for i, meta in enumerate(items):
        if not isinstance(meta, dict):
            raise InputError(f"metadata[{i}] is {type(meta).__name__}, expected dict")
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as exc:
            raise InputError(f"metadata[{i}] is not JSON-serialisable: {exc}") from None
    return items


def check_ids(ids: Sequence[str], n: int) -> list[str]:
    """The ids as a list, checked: one per text, non-empty strings, no repeats."""
    items = list(ids)
    if len(items) != n:
        raise InputError(f"got {len(items)} ids for {n} texts: give one id per text")
    seen: set[str] = set()
    for i, id_ in enumerate(items):
        if not isinstance(id_, str) or not id_:
            raise InputError(f"ids[{i}] must be a non-empty string, got {id_!r}")
        if id_ in seen:
            raise InputError(f"id {id_!r} appears twice in one call: ids must be unique")
        seen.add(id_)
    return items


@dataclass
class ChangeSet:
    """Everything one commit writes: new rows, deletions and metadata updates."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None
    deleted_rows: list[int] = field(default_factory=list)
    metadata_updates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ids or self.deleted_rows or self.metadata_updates)
