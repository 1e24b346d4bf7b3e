"""The one SQLite helper: creation only when asked, WAL and memory-mapped reads,
numbered migrations applied by number, newer schemas refused, adoption of
`user_version` files, busy vs damaged."""

from __future__ import annotations

import sqlite3

import pytest

from embedstack.errors import BusyError, StorageError
from embedstack.sqlite import MMAP_BYTES, applied_migrations, open_database, write_transaction

SCHEMA = {1: "CREATE TABLE a (x INTEGER)", 2: "CREATE TABLE b (y INTEGER)"}


def test_open_never_creates_unless_asked(tmp_path):
    path = tmp_path / "db.sqlite"
    with pytest.raises(StorageError, match="is missing: restore it"):
        open_database(path, SCHEMA, hint="restore it")
    assert not path.exists()
    path.write_bytes(b"")
    with pytest.raises(StorageError, match=r"is empty \(0 bytes\)"):
        open_database(path, SCHEMA)
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StorageError, match="unreadable"):
        open_database(path, SCHEMA)
    path.unlink()
    conn = open_database(path, SCHEMA, create=True)
    assert applied_migrations(conn) == [1, 2]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA mmap_size").fetchone()[0] == MMAP_BYTES  # reads map the file
    conn.close()


def test_migrations_apply_by_number_and_newer_is_refused(tmp_path):
    path = tmp_path / "db.sqlite"
    open_database(path, {1: SCHEMA[1], 3: "CREATE TABLE c (z INTEGER)"}, create=True).close()
    conn = open_database(path, {**SCHEMA, 3: "CREATE TABLE c (z INTEGER)"})
    assert applied_migrations(conn) == [1, 2, 3]  # 2, merged later, still ran
    conn.close()
    with pytest.raises(StorageError, match=r"newer embedstack \(schema migration 3"):
        open_database(path, SCHEMA)


def test_a_user_version_database_is_adopted(tmp_path):
    path = tmp_path / "cache.sqlite"
    legacy = sqlite3.connect(path)
    legacy.execute(SCHEMA[1])
    legacy.execute("PRAGMA user_version = 1")
    legacy.commit()
    legacy.close()
    conn = open_database(path, SCHEMA)  # 1 counts as applied; only 2 runs
    assert applied_migrations(conn) == [1, 2]
    conn.close()
    newer = sqlite3.connect(tmp_path / "newer.sqlite")
    newer.execute("PRAGMA user_version = 7")
    newer.close()
    with pytest.raises(StorageError, match="newer embedstack"):
        open_database(tmp_path / "newer.sqlite", SCHEMA)


def test_waiting_for_the_lock_reports_once_then_says_busy(tmp_path):
    path = tmp_path / "db.sqlite"
    open_database(path, SCHEMA, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    conn = open_database(path, SCHEMA)  # up to date: opening needs no lock
    waits = []
    waiting = write_transaction(conn, timeout=0.6, on_wait=lambda: waits.append(1))
    with pytest.raises(BusyError, match="waiting for the lock"), waiting:
        pass
    assert waits == [1]
    holder.execute("ROLLBACK")
    with write_transaction(conn, timeout=0.6):
        conn.execute("INSERT INTO a VALUES (1)")
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]
