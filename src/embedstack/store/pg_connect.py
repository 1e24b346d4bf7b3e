"""A Postgres collection's URL and its connections.

`postgresql://user:password@host:5432/db?collection=kb&m=16&ef_construction=64&ef_search=40
&storage=halfvec` names the database, the collection (one table) and its HNSW settings
(`storage`: vector, halfvec or bit; `fts_config`/`fts_rank`: the full-text index);
every other query parameter (`host=/socket/dir`, `sslmode=...`) goes to libpq as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from embedstack._optional import require
from embedstack.errors import CollectionError, InputError

CATALOG = "embedstack_collections"
STORAGES = ("vector", "halfvec", "bit")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OWN = ("collection", "m", "ef_construction", "ef_search", "storage", "fts_config", "fts_rank")
# ts_rank (term frequency) ranks SciFact far better than ts_rank_cd (cover density):
# nDCG@10 0.604 vs 0.374, see docs/benchmarks.md; both divide by 1 + log(length).
FTS_RANKS = ("ts_rank", "ts_rank_cd")
_LIMITS = {"m": (2, 100), "ef_construction": (4, 1000), "ef_search": (1, 1000)}


def check_name(name: str) -> str:
    """A collection name is a lower-case SQL identifier (it names the table)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == CATALOG:
        raise InputError(
            f"bad collection name {name!r}: use 1-63 lower-case letters, digits and '_', "
            f"starting with a letter or '_' (and not {CATALOG!r}), e.g. ?collection=kb"
        )
    return name


@dataclass(frozen=True)
class PgTarget:
    """Where a Postgres collection lives and how its index is built and searched."""

    conninfo: str  # the URL without embedstack's own parameters
    collection: str
    m: int = 16
    ef_construction: int = 64
    ef_search: int = 40
    storage: str = "vector"
    fts_config: str = "english"
    fts_rank: str = "ts_rank"

    @property
    def display(self) -> str:
        """The URL with any password replaced by `***`, for messages."""
        parts = urlsplit(self.conninfo)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{host}"
        query = urlencode([*parse_qsl(parts.query), ("collection", self.collection)], safe="/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _int(params: dict[str, str], key: str, default: int) -> int:
    if key not in params:
        return default
    low, high = _LIMITS[key]
    try:
        value = int(params[key])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InputError(
            f"?{key}= must be a whole number from {low} to {high}, got {params[key]!r}"
        )
    return value


def parse_url(url: str) -> PgTarget:
    """Split a collection URL into libpq's conninfo and embedstack's settings."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InputError(f"not a PostgreSQL URL: {url!r} (expected postgresql://...)")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in pairs if k in _OWN}
    rest = [(k, v) for k, v in pairs if k not in _OWN]
    if "collection" not in own:
        raise InputError(
            f"the URL names no collection: add ?collection=NAME, e.g. "
            f"postgresql://user@host/db?collection=kb (got {urlunsplit(parts._replace(netloc=''))})"
        )
    storage = own.get("storage", "vector")
    if storage not in STORAGES:
        raise InputError(f"?storage= must be one of {', '.join(STORAGES)}, got {storage!r}")
    fts = own.get("fts_config", "english")
    if not _NAME.fullmatch(fts):
        raise InputError(f"?fts_config= must name a text search configuration, got {fts!r}")
    rank = own.get("fts_rank", "ts_rank")
    if rank not in FTS_RANKS:
        raise InputError(f"?fts_rank= must be one of {', '.join(FTS_RANKS)}, got {rank!r}")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest, safe="/"), ""))
    return PgTarget(
        conninfo=conninfo,
        collection=check_name(own["collection"]),
        m=_int(own, "m", 16),
        ef_construction=_int(own, "ef_construction", 64),
        ef_search=_int(own, "ef_search", 40),
        storage=storage,
        fts_config=fts,
        fts_rank=rank,
    )


def psycopg() -> Any:
    """The psycopg module, or an error naming the extra to install."""
    return require("psycopg", "postgres", "PostgreSQL collections")


def connect(target: PgTarget, **kwargs: Any) -> Any:
    """One connection, with a clear one-line error when the server cannot be reached."""
    pg = psycopg()
    try:
        return pg.connect(target.conninfo, connect_timeout=10, **kwargs)
    except pg.OperationalError as exc:
        reason = " ".join(str(exc).split())[:300]
        raise CollectionError(
            f"cannot connect to PostgreSQL at {target.display} ({reason}): check the URL "
            "(user, host, port, database) and that the server is running"
        ) from None


def register_types(conn: Any, target: PgTarget) -> None:
    """Teach a connection pgvector's types; a database without the extension is named."""
    adapter = require("pgvector.psycopg", "postgres", "PostgreSQL collections")
    try:
        adapter.register_vector(conn)
    except psycopg().ProgrammingError:
        raise CollectionError(missing_extension(target)) from None
    # Session settings for dense search: one round trip per query afterwards.
    conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(target.ef_search),))
    conn.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', false)")
    if conn.info.transaction_status != 0:  # IDLE: close the implicit transaction
        conn.rollback()


def missing_extension(target: PgTarget) -> str:
    """The error text for a database without pgvector, with how to enable it."""
    return (
        f"the pgvector extension is not enabled in {target.display}: run "
        "`CREATE EXTENSION vector;` in that database as a superuser (install pgvector on the "
        "server first: https://github.com/pgvector/pgvector#installation)"
    )


def open_pool(target: PgTarget, max_size: int = 4) -> Any:
    """A small pool of autocommit connections (a collection is shared by threads, e.g.
    the server's workers); writes open their own transactions."""
    pool_module = require("psycopg_pool", "postgres", "PostgreSQL collections")
    pool = pool_module.ConnectionPool(
        target.conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"connect_timeout": 10, "autocommit": True},
        configure=lambda conn: register_types(conn, target),
        open=False,
    )
    pool.open(wait=True, timeout=15)
    return pool
