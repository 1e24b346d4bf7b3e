"""The parts of the collection interface a PostgreSQL collection answers from SQL alone:
committed settings (e.g. the fusion `embedstack tune` chose), content hashes and filtered
ids. Settings live in one shared `embedstack_settings` table keyed by collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from embedstack.store.backend import check_setting
from embedstack.store.pg_connect import psycopg
from embedstack.store.pg_filters import compile_where_pg

if TYPE_CHECKING:
    from embedstack.store.pg_connect import PgTarget

SETTINGS = "embedstack_settings"


class PgState:
    """Settings, hashes and filtered ids of one PostgreSQL collection."""

    if TYPE_CHECKING:
        target: PgTarget
        _pool: Any

        def _fetch(self, text: str, params: Sequence[Any] = (), fetch: bool = True) -> list[Any]:
            """Run SQL with `{}` standing for this collection's table."""

    def get_setting(self, key: str) -> dict[str, Any] | None:
        """A setting stored with `set_setting` (e.g. "fusion"), or None if never set."""
        sql = psycopg().sql
        with self._pool.connection() as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (SETTINGS,)).fetchone()[0]
            if exists is None:
                return None
            row = conn.execute(
                sql.SQL("SELECT value FROM {} WHERE collection = %s AND key = %s").format(
                    sql.Identifier(SETTINGS)
                ),
                (self.target.collection, key),
            ).fetchone()
        return None if row is None else dict(row[0])

    def set_setting(self, key: str, value: dict[str, Any]) -> None:
        """Store a JSON-able dict under `key`, in one transaction."""
        check_setting(key, value)
        sql = psycopg().sql
        table = sql.Identifier(SETTINGS)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (collection text NOT NULL, key text NOT NULL, "
                    "value jsonb NOT NULL, PRIMARY KEY (collection, key))"
                ).format(table)
            )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES (%s, %s, %s) "
                    "ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value"
                ).format(table),
                (self.target.collection, key, psycopg().types.json.Jsonb(value)),
            )

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> stored content hash, for the ids present."""
        rows = self._fetch("SELECT id, hash FROM {} WHERE id = ANY(%s)", (list(ids),))
        return {str(i): str(h) for i, h in rows}

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids of the rows a metadata filter matches, in insertion order."""
        condition, params = compile_where_pg(where)
        sql = psycopg().sql
        text = sql.SQL("SELECT id FROM {table} WHERE ({cond}) ORDER BY seq").format(
            table=sql.Identifier(self.target.collection), cond=condition
        )
        with self._pool.connection() as conn:
            return [r[0] for r in conn.execute(text, params).fetchall()]

    def rebuild_vectors(self, progress: object | None = None) -> int:
        """Nothing to repair: PostgreSQL keeps the vectors in its own (checksummed, WAL)
        storage, not in files embedstack writes. Returns 0 rows re-embedded."""
        return 0
