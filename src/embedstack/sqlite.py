"""The one way embedstack opens a SQLite database (collections, the vector cache).

`open_database` sets the pragmas (WAL, busy timeout, full sync), refuses a missing or
empty file unless asked to create it, refuses a schema newer than this code, and
applies numbered migrations only when some are missing, under the write lock. A
reader therefore never takes the write lock. `write_transaction` takes the lock with a
visible wait (`on_wait`) and a deadline that ends in `BusyError`, never in "damaged".

Migrations are `{number: sql}`; every number not yet recorded in `_migrations` is
applied in ascending order (so a migration merged later with a lower number still
runs), and a recorded number this code does not know means a newer embedstack wrote
the database.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from embedstack.errors import BusyError, StorageError

log = logging.getLogger(__name__)

BUSY_MS = 10_000  # how long one statement waits for a lock before SQLite gives up
POLL_MS = 250  # while waiting for the write lock, how often we try again
# Reads go through a memory map of up to this much of the file (address space, not RAM):
# a search fetching 10 hit rows of a 1M-row collection took 2x longer through read()
# calls. The files never shrink (no VACUUM), so the map never outlives its bytes.
MMAP_BYTES = 1 << 30
_TABLE = "CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, applied_at TEXT)"


def is_busy(exc: BaseException) -> bool:
    """Whether a SQLite error means "another connection holds the lock", not damage."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _uri(path: Path, create: bool) -> str:
    quoted = urllib.parse.quote(str(path.resolve()))
    return f"file:{quoted}?mode={'rwc' if create else 'rw'}"


def open_database(
    path: Path,
    migrations: Mapping[int, str],
    *,
    create: bool = False,
    synchronous: str = "FULL",
    hint: str = "",
) -> sqlite3.Connection:
    """Open (or with `create`, make) the database at `path` and bring its schema up to
    date. `hint` is appended to errors and should say how to repair."""
    path = Path(path)
    suffix = f": {hint}" if hint else ""
    if not create:
        if not path.is_file():
            raise StorageError(f"database {path} is missing{suffix}")
        if path.stat().st_size == 0:
            raise StorageError(f"database {path} is empty (0 bytes){suffix}")
    try:
        conn = sqlite3.connect(
            _uri(path, create), uri=True, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StorageError(f"database {path} cannot be opened ({exc}){suffix}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # once, when the file is new
        _migrate(conn, path, migrations, create, suffix)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise classify(exc, path, hint) from exc
        raise
    return conn


def classify(exc: sqlite3.Error, path: Path, hint: str = "") -> StorageError | BusyError:
    """The embedstack error for a SQLite error: busy, or damaged with the repair hint."""
    if is_busy(exc):
        return BusyError(
            f"database {path} is busy: another process is writing to it; try again when it finishes"
        )
    suffix = f": {hint}" if hint else ""
    return StorageError(f"database {path} is unreadable ({exc}){suffix}")


def _applied(conn: sqlite3.Connection) -> set[int] | None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return None
    return {int(r[0]) for r in conn.execute("SELECT number FROM _migrations")}


def _recorded(conn: sqlite3.Connection) -> set[int] | None:
    """Applied migration numbers; a database that kept its schema version in `PRAGMA
    user_version` (older cache files) counts as having applied 1..user_version."""
    done = _applied(conn)
    if done is None:
        legacy = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if legacy > 0:
            return set(range(1, legacy + 1))
    return done


def _migrate(
    conn: sqlite3.Connection, path: Path, migrations: Mapping[int, str], create: bool, suffix: str
) -> None:
    done = _recorded(conn)  # a plain read: no lock unless something must change
    if done is None and not create:
        raise StorageError(f"database {path} holds no embedstack schema{suffix}")
    _refuse_newer(done or set(), migrations, path)
    if done is not None and not set(migrations) - done:
        return
    with write_transaction(conn):
        done = _recorded(conn) or set()  # again, under the lock: another process may have
        _refuse_newer(done, migrations, path)
        conn.execute(_TABLE)
        conn.executemany(
            "INSERT OR IGNORE INTO _migrations (number, applied_at) VALUES (?, 'adopted')",
            [(n,) for n in sorted(done)],
        )
        for number in sorted(set(migrations) - done):
            log.info("applying schema migration %d to %s", number, path)
            for statement in migrations[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (number, applied_at) VALUES (?, datetime('now'))",
                (number,),
            )


def _refuse_newer(done: set[int], migrations: Mapping[int, str], path: Path) -> None:
    unknown = sorted(done - set(migrations))
    if unknown:
        raise StorageError(
            f"database {path} was written by a newer embedstack (schema migration "
            f"{unknown[-1]}; this version knows up to {max(migrations, default=0)}): "
            "upgrade embedstack (pip install -U embedstack)"
        )


def applied_migrations(conn: sqlite3.Connection) -> list[int]:
    """The migration numbers recorded in the database, ascending."""
    return sorted(_applied(conn) or ())


@contextmanager
def write_transaction(
    conn: sqlite3.Connection,
    *,
    timeout: float | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """`BEGIN IMMEDIATE` ... `COMMIT` (rollback on any error). While another process
    holds the lock, `on_wait` is called once and we keep trying until `timeout` seconds
    (None: wait as long as it takes), then raise `BusyError`."""
    deadline = None if timeout is None else time.monotonic() + timeout
    waited = False
    conn.execute(f"PRAGMA busy_timeout = {POLL_MS}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise BusyError(f"gave up after {timeout:g} s waiting for the lock") from None
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A deferred transaction: every statement inside reads one snapshot (WAL), and no
    lock is taken that would block a writer. Nested use joins the outer transaction."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
