"""SQLite schema changes of a collection database as numbered migrations.

Add a new numbered entry to `MIGRATIONS` to change the schema; never edit an applied
one. `embedstack.sqlite.open_database` applies every number the database lacks, in
order, under the write lock, and refuses a database that records a number unknown here.
"""

from __future__ import annotations

import sqlite3

from embedstack.sqlite import applied_migrations

MIGRATIONS: dict[int, str] = {
    # 1: rows, the vector segments that hold them, and where each secondary index lives.
    1: """
    CREATE TABLE records (
        row INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        hash TEXT NOT NULL
    );
    CREATE TABLE segments (
        name TEXT PRIMARY KEY,
        start INTEGER NOT NULL,
        count INTEGER NOT NULL
    );
    CREATE TABLE index_state (
        name TEXT PRIMARY KEY,
        directory TEXT NOT NULL
    );
    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO state (key, value) VALUES ('generation', 0);
    """,
    # 2: named settings committed with the data (e.g. the fusion `embedstack tune` chose).
    2: """
    CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 3: crash safety. `writes` is the write journal: a write is recorded (and committed)
    # before it creates any file, and every file it creates carries its id, so cleanup
    # after a crash deletes exactly the files of unfinished writes. `trash` lists files
    # a commit superseded, deleted after the commit (again after a crash). Checksums of
    # vector segments and index folders detect damage on disk.
    3: """
    CREATE TABLE IF NOT EXISTS writes (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS trash (name TEXT PRIMARY KEY);
    ALTER TABLE segments ADD COLUMN checksum TEXT;
    ALTER TABLE index_state ADD COLUMN checksum TEXT;
    """,
}


def applied(conn: sqlite3.Connection) -> int:
    """The highest migration number recorded in the database (0 for none)."""
    return max(applied_migrations(conn), default=0)
