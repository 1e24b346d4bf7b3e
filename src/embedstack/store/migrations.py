"""SQLite schema changes as numbered migrations (the way simonw's llm does it).

Append a new entry to `MIGRATIONS` to change the schema; never edit an applied one.
Each migration runs inside the caller's transaction and is recorded in `_migrations`.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: rows, the vector segments that hold them, and where each secondary index lives.
    """
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
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)


def applied(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, applied_at TEXT)"
    )
    row = conn.execute("SELECT MAX(number) FROM _migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations not yet applied; returns how many ran. Call in a transaction."""
    done = applied(conn)
    for number, sql in enumerate(MIGRATIONS[done:], start=done + 1):
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO _migrations (number, applied_at) VALUES (?, datetime('now'))", (number,)
        )
    return len(MIGRATIONS) - done
