"""The SQLite side of a collection: rows (id, text, metadata, content hash), the list of
vector segments, and where each secondary index is saved.

This database is the collection's single commit point: new vector and index files are
written under fresh names first, and only the transaction that lists them makes them
part of the collection. A crash at any moment leaves the previous state readable.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.sqlite import open_database, read_transaction, write_transaction
from embedstack.store.filters import compile_where
from embedstack.store.migrations import MIGRATIONS

DATABASE = "store.sqlite"
_CHUNK = 500  # ids per `IN (...)` query, well under SQLite's variable limit
HOST = socket.gethostname()


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _metadata(fetched: list[tuple[int, str, str, str]]) -> list[dict[str, Any]]:
    """The metadata JSON of fetched rows, decoded as one array (one parser call instead
    of one per row). If the array does not split back into one value per row (a damaged
    value), each is decoded alone, so the damage raises as it always did."""
    texts = [meta for *_, meta in fetched]
    if all(meta == "{}" for meta in texts):
        return [{} for _ in texts]
    try:
        decoded = json.loads("[" + ",".join(texts) + "]")
    except json.JSONDecodeError:
        decoded = None
    if not isinstance(decoded, list) or len(decoded) != len(texts):
        decoded = [json.loads(meta) for meta in texts]
    return decoded


class RecordStore:
    """Thin typed wrapper over the collection database (one connection).

    Opening never creates the database unless `create` is set: a collection whose
    database went missing is refused, not silently replaced by an empty one."""

    def __init__(self, path: Path, *, create: bool = False, hint: str = "") -> None:
        self.path = path
        self.conn: sqlite3.Connection = open_database(path, MIGRATIONS, create=create, hint=hint)

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def reading(self) -> AbstractContextManager[None]:
        """One read snapshot; never blocks a writer and is never blocked by one."""
        return read_transaction(self.conn)

    def writing(
        self, timeout: float | None = None, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        """The write lock (`BEGIN IMMEDIATE`) until commit; see `sqlite.write_transaction`."""
        return write_transaction(self.conn, timeout=timeout, on_wait=on_wait)

    # -- write journal -------------------------------------------------------------------
    def begin_write(self, write_id: str) -> None:
        """Record (committed, inside the caller's transaction) that a write started."""
        self.conn.execute(
            "INSERT INTO writes (id, pid, host, started) VALUES (?, ?, ?, ?)",
            (write_id, os.getpid(), HOST, time.time()),
        )

    def end_write(self, write_id: str) -> None:
        """Clear a write's journal entry once it has committed."""
        self.conn.execute("DELETE FROM writes WHERE id = ?", (write_id,))

    def writes(self) -> list[tuple[str, int, str]]:
        """Unfinished writes as (id, pid, host), oldest first."""
        return list(self.conn.execute("SELECT id, pid, host FROM writes ORDER BY started"))

    def add_trash(self, names: Sequence[str]) -> None:
        """List superseded files to delete once it is safe."""
        self.conn.executemany("INSERT OR IGNORE INTO trash VALUES (?)", [(n,) for n in names])

    def trash(self) -> list[str]:
        """Superseded files still waiting to be deleted, by name."""
        return [r[0] for r in self.conn.execute("SELECT name FROM trash ORDER BY name")]

    def clear_trash(self, names: Sequence[str]) -> None:
        """Forget trash entries whose files are now deleted."""
        self.conn.executemany("DELETE FROM trash WHERE name = ?", [(n,) for n in names])

    # -- state ---------------------------------------------------------------------------
    def generation(self) -> int:
        """Commit counter; readers compare it to notice a concurrent write."""
        return int(
            self.conn.execute("SELECT value FROM state WHERE key='generation'").fetchone()[0]
        )

    def bump_generation(self) -> None:
        """Advance the commit counter (inside the committing transaction)."""
        self.conn.execute("UPDATE state SET value = value + 1 WHERE key = 'generation'")

    def segments(self) -> list[tuple[str, int, int, str | None]]:
        """(name, start, count, checksum) of every vector segment, in row order."""
        sql = "SELECT name, start, count, checksum FROM segments ORDER BY start"
        return list(self.conn.execute(sql))

    def add_segment(self, name: str, start: int, count: int, checksum: str | None) -> None:
        """List a vector segment file as part of the collection."""
        self.conn.execute(
            "INSERT INTO segments (name, start, count, checksum) VALUES (?, ?, ?, ?)",
            (name, start, count, checksum),
        )

    def remove_segment(self, name: str) -> None:
        """Unlist a vector segment file."""
        self.conn.execute("DELETE FROM segments WHERE name = ?", (name,))

    def replace_segments(self, name: str | None, count: int, checksum: str | None) -> None:
        """Replace every segment with one (or none), as compaction does."""
        self.conn.execute("DELETE FROM segments")
        if name is not None:
            self.add_segment(name, 0, count, checksum)

    def index_dirs(self) -> dict[str, tuple[str, str | None]]:
        """index name -> (folder, checksums JSON)."""
        rows = self.conn.execute("SELECT name, directory, checksum FROM index_state")
        return {name: (directory, checksum) for name, directory, checksum in rows}

    def set_index_dir(self, name: str, directory: str, checksum: str | None) -> None:
        """Record where an index is saved and its checksums."""
        self.conn.execute(
            "INSERT INTO index_state (name, directory, checksum) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET directory = excluded.directory, "
            "checksum = excluded.checksum",
            (name, directory, checksum),
        )

    def setting(self, key: str) -> dict[str, Any] | None:
        """A stored settings dict, or None if never set."""
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_setting(self, key: str, value: dict[str, Any]) -> None:
        """Store a settings dict under key, replacing any earlier one."""
        self.conn.execute(
            "INSERT INTO settings VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    # -- rows ----------------------------------------------------------------------------
    def count(self) -> int:
        """Number of live rows."""
        return int(self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def ids(self) -> list[str]:
        """Ids of the live rows, in insertion order."""
        return [r[0] for r in self.conn.execute("SELECT id FROM records ORDER BY row")]

    def alive_rows(self) -> np.ndarray:
        """Row numbers of the live rows, ascending."""
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
        """Row numbers matching a metadata filter, ascending."""
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
        """row -> (id, text, metadata). Runs after every search, so the metadata of all
        fetched rows is decoded in one `json.loads` call, not one per row."""
        found: dict[int, tuple[str, str, dict[str, Any]]] = {}
        for part in _chunks([int(r) for r in rows]):
            marks = ",".join("?" * len(part))
            sql = f"SELECT row, id, text, metadata FROM records WHERE row IN ({marks})"
            fetched = self.conn.execute(sql, part).fetchall()
            for (row, id_, text, _), meta in zip(fetched, _metadata(fetched), strict=True):
                found[row] = (id_, text, meta)
        return found

    def texts_in_row_order(self) -> list[str]:
        """Texts of the live rows, in row order (for rebuilding indexes)."""
        return [r[0] for r in self.conn.execute("SELECT text FROM records ORDER BY row")]

    def insert(
        self,
        rows: Sequence[int] | np.ndarray,
        ids: Sequence[str],
        texts: Sequence[str],
        metadata: Sequence[dict[str, Any]],
        hashes: Sequence[str],
    ) -> None:
        """Store new rows (caller's transaction commits them)."""
        self.conn.executemany(
            "INSERT INTO records (row, id, text, metadata, hash) VALUES (?, ?, ?, ?, ?)",
            [
                (int(r), i, t, json.dumps(m, ensure_ascii=False, sort_keys=True), h)
                for r, i, t, m, h in zip(rows, ids, texts, metadata, hashes, strict=True)
            ],
        )

    def delete_rows(self, rows: Sequence[int]) -> None:
        """Remove rows by row number."""
        self.conn.executemany("DELETE FROM records WHERE row = ?", [(int(r),) for r in rows])

    def update_metadata(self, updates: dict[str, dict[str, Any]]) -> None:
        """Replace the metadata of these ids."""
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
