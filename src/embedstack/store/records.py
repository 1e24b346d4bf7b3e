"""The SQLite side of a collection: rows (id, text, metadata, content hash), the list of
vector segments, and where each secondary index is saved.

This database is the collection's single commit point: new vector and index files are
written under fresh names first, and only the transaction that lists them makes them
part of the collection. A crash at any moment leaves the previous state readable.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import CollectionError
from embedstack.store.filters import compile_where
from embedstack.store.migrations import migrate

DATABASE = "store.sqlite"
_CHUNK = 500  # ids per `IN (...)` query, well under SQLite's variable limit


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class RecordStore:
    """Thin typed wrapper over the collection database (one connection)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout = 10000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            with self.transaction():
                migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            raise CollectionError(
                f"database {path} is unreadable ({exc}); the collection is damaged: "
                "re-index it into a new folder"
            ) from exc

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self, busy_ms: int | None = None) -> Iterator[None]:
        """`BEGIN IMMEDIATE`: takes the write lock so one writer works at a time."""
        if busy_ms is not None:
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            if busy_ms is not None:
                self.conn.execute("PRAGMA busy_timeout = 10000")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- state ---------------------------------------------------------------------------
    def generation(self) -> int:
        return int(
            self.conn.execute("SELECT value FROM state WHERE key='generation'").fetchone()[0]
        )

    def bump_generation(self) -> None:
        self.conn.execute("UPDATE state SET value = value + 1 WHERE key = 'generation'")

    def segments(self) -> list[tuple[str, int, int]]:
        return list(self.conn.execute("SELECT name, start, count FROM segments ORDER BY start"))

    def add_segment(self, name: str, start: int, count: int) -> None:
        self.conn.execute("INSERT INTO segments VALUES (?, ?, ?)", (name, start, count))

    def remove_segment(self, name: str) -> None:
        self.conn.execute("DELETE FROM segments WHERE name = ?", (name,))

    def replace_segments(self, name: str | None, count: int) -> None:
        self.conn.execute("DELETE FROM segments")
        if name is not None:
            self.add_segment(name, 0, count)

    def index_dirs(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT name, directory FROM index_state"))

    def set_index_dir(self, name: str, directory: str) -> None:
        self.conn.execute(
            "INSERT INTO index_state VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET directory = excluded.directory",
            (name, directory),
        )

    def setting(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_setting(self, key: str, value: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO settings VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    # -- rows ----------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM records ORDER BY row")]

    def alive_rows(self) -> np.ndarray:
        rows = self.conn.execute("SELECT row FROM records ORDER BY row")
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def source_paths(self) -> dict[str, str]:
        """id -> the `path` metadata of every row that has a string `path`."""
        sql = (
            "SELECT id, json_extract(metadata, '$.path') FROM records "
            "WHERE json_type(metadata, '$.path') = 'text'"
        )
        return dict(self.conn.execute(sql))

    def rows_where(self, where: dict[str, Any]) -> np.ndarray:
        condition, params = compile_where(where)
        sql = f"SELECT row FROM records WHERE {condition} ORDER BY row"
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[int, str, str]]:
        """id -> (row, content hash, metadata JSON) for the ids that exist."""
        found: dict[str, tuple[int, str, str]] = {}
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            sql = f"SELECT id, row, hash, metadata FROM records WHERE id IN ({marks})"
            for id_, row, hash_, meta in self.conn.execute(sql, list(part)):
                found[id_] = (row, hash_, meta)
        return found

    def fetch_rows(self, rows: Sequence[int]) -> dict[int, tuple[str, str, dict[str, Any]]]:
        """row -> (id, text, metadata)."""
        found: dict[int, tuple[str, str, dict[str, Any]]] = {}
        for part in _chunks([int(r) for r in rows]):
            marks = ",".join("?" * len(part))
            sql = f"SELECT row, id, text, metadata FROM records WHERE row IN ({marks})"
            for row, id_, text, meta in self.conn.execute(sql, list(part)):
                found[row] = (id_, text, json.loads(meta))
        return found

    def texts_in_row_order(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT text FROM records ORDER BY row")]

    def insert(
        self,
        rows: Sequence[int] | np.ndarray,
        ids: Sequence[str],
        texts: Sequence[str],
        metadata: Sequence[dict[str, Any]],
        hashes: Sequence[str],
    ) -> None:
        self.conn.executemany(
            "INSERT INTO records (row, id, text, metadata, hash) VALUES (?, ?, ?, ?, ?)",
            [
                (int(r), i, t, json.dumps(m, ensure_ascii=False, sort_keys=True), h)
                for r, i, t, m, h in zip(rows, ids, texts, metadata, hashes, strict=True)
            ],
        )

    def delete_rows(self, rows: Sequence[int]) -> None:
        self.conn.executemany("DELETE FROM records WHERE row = ?", [(int(r),) for r in rows])

    def update_metadata(self, updates: dict[str, dict[str, Any]]) -> None:
        self.conn.executemany(
            "UPDATE records SET metadata = ? WHERE id = ?",
            [(json.dumps(m, ensure_ascii=False, sort_keys=True), i) for i, m in updates.items()],
        )

    def renumber(self, alive: np.ndarray) -> None:
        """Give the alive rows (sorted) the numbers 0..n-1, keeping their order."""
        self.conn.executemany(
            "UPDATE records SET row = ? WHERE row = ?",
            [(new, int(old)) for new, old in enumerate(alive) if new != old],
        )
