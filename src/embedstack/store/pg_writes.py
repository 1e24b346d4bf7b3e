"""Writes to a Postgres collection: add, upsert, delete, each one transaction.

Rows go in by binary `COPY` into a temporary table, then one `INSERT ... SELECT` (with
`ON CONFLICT (id) DO UPDATE` for upserts) moves them into the collection, so a write is
all or nothing and concurrent writers in other processes never see or leave half a
batch. Only texts whose content hash changed are embedded, as in the embedded store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.encoders.base import Encoder, check_texts
from embedstack.errors import CollectionError, InputError
from embedstack.progress import Progress, report
from embedstack.store.backend import check_delete
from embedstack.store.changes import UpsertReport, check_ids, check_metadata, content_hash
from embedstack.store.flat import check_vectors
from embedstack.store.pg_connect import psycopg
from embedstack.store.pg_filters import compile_where_pg
from embedstack.store.pg_schema import to_db
from embedstack.types import EmbeddingSpace, Kind

if TYPE_CHECKING:
    from embedstack.store.pg_connect import PgTarget
    from embedstack.store.pg_schema import Settings

COPY_REPORT_ROWS = 1000  # rows between two progress reports of a COPY
# A load of at least this many rows into an empty collection builds the HNSW index once
# afterwards (pgvector's advice: much faster than growing the graph row by row).
BUILD_AFTER_ROWS = 5000
BUILD_MEMORY = "512MB"  # maintenance_work_mem for that build, this transaction only
UPSERT_ATTEMPTS = 3


class _TextChangedError(Exception):
    """A concurrent writer changed a text this upsert judged unchanged."""


_UPDATE = (
    " ON CONFLICT (id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata, "
    "hash = excluded.hash, space = excluded.space, nonzero = excluded.nonzero, "
    "embedding = excluded.embedding, seq = excluded.seq"
)


class PgWrites:
    """The write half of `PostgresCollection`."""

    if TYPE_CHECKING:
        target: PgTarget
        settings: Settings
        _pool: Any

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        @property
        def encoder(self) -> Encoder:
            """The encoder that embeds new texts."""

    def add(
        self,
        texts: Sequence[str],
        ids: Sequence[str] | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Embed and store new texts; an id already stored is refused (use `upsert`)."""
        items = check_texts(texts)
        id_list = check_ids(
            ids if ids is not None else [uuid.uuid4().hex for _ in items], len(items)
        )
        metas = check_metadata(metadata, len(items))
        self._refuse_existing(self._lookup(id_list))
        vectors = self._embed(items, batch_size, progress)
        hashes = [content_hash(t) for t in items]
        with self._pool.connection() as conn:
            try:
                self._copy_rows(conn, (id_list, items, metas, hashes, vectors), upsert=False)
            except psycopg().errors.UniqueViolation:
                # another process added one of these ids since the check above
                self._refuse_existing(self._lookup(id_list))
                raise
        return id_list

    def upsert(
        self,
        texts: Sequence[str],
        ids: Sequence[str],
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> UpsertReport:
        """Insert or replace by id; only changed texts are embedded; metadata None keeps
        the stored metadata of existing ids."""
        items = check_texts(texts)
        id_list = check_ids(ids, len(items))
        metas = None if metadata is None else check_metadata(metadata, len(items))
        for _ in range(UPSERT_ATTEMPTS):
            try:
                return self._upsert_once(items, id_list, metas, batch_size, progress)
            except _TextChangedError:
                continue  # another process rewrote one of these texts meanwhile: redo
        raise CollectionError(
            f"other writers kept changing these ids during {UPSERT_ATTEMPTS} attempts: "
            "run the upsert again"
        )

    def _upsert_once(
        self,
        items: list[str],
        id_list: list[str],
        metas: list[dict[str, Any]] | None,
        batch_size: int | None,
        progress: Progress | None,
    ) -> UpsertReport:
        existing = self._lookup(id_list)
        result = UpsertReport()
        changed: list[int] = []
        new_meta: list[dict[str, Any]] = []
        meta_updates: dict[str, dict[str, Any]] = {}
        for i, id_ in enumerate(id_list):
            meta, old = (metas[i] if metas else None), existing.get(id_)
            if old is not None and old[0] == content_hash(items[i]):
                if meta is not None and meta != old[1]:
                    result.metadata_only.append(id_)
                    meta_updates[id_] = meta
                else:
                    result.unchanged.append(id_)
                continue
            (result.added if old is None else result.updated).append(id_)
            changed.append(i)
            new_meta.append(meta if meta is not None else (old[1] if old else {}))
        chosen = [items[i] for i in changed]
        vectors = self._embed(chosen, batch_size, progress)
        with self._pool.connection() as conn, conn.transaction():
            if changed:
                hashes = [content_hash(t) for t in chosen]
                batch = ([id_list[i] for i in changed], chosen, new_meta, hashes, vectors)
                self._copy_rows(conn, batch, upsert=True)
            if meta_updates:  # only if the text is still the one compared above
                cursor = conn.cursor()
                cursor.executemany(
                    self._sql("UPDATE {} SET metadata = %s WHERE id = %s AND hash = %s"),
                    [(self._jsonb(m), i, existing[i][0]) for i, m in sorted(meta_updates.items())],
                )
                if cursor.rowcount != len(meta_updates):
                    raise _TextChangedError
        return result

    def upsert_vectors(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Bulk-load rows whose vectors are already made in this collection's space
        (e.g. copied from another collection of the same space): one binary COPY,
        reporting `("copy", done, total)`. Returns the number of rows written."""
        items = check_texts(texts)
        id_list = check_ids(ids, len(items))
        metas = check_metadata(metadata, len(items))
        vectors = check_vectors(np.asarray(vectors, dtype=np.float32), self.space.dim)
        if len(vectors) != len(items):
            raise InputError(f"{len(vectors)} vectors for {len(items)} texts: give one per text")
        hashes = [content_hash(t) for t in items]
        with self._pool.connection() as conn:
            self._copy_rows(
                conn, (id_list, items, metas, hashes, vectors), upsert=True, progress=progress
            )
        return len(items)

    def delete(
        self, ids: Sequence[str] | None = None, *, where: dict[str, Any] | None = None
    ) -> int:
        """Remove rows by id (missing ids are ignored) or every row a `where` filter
        matches; returns how many were removed."""
        id_list = check_delete(ids, where)
        with self._pool.connection() as conn:
            if id_list is not None:
                cursor = conn.execute(self._sql("DELETE FROM {} WHERE id = ANY(%s)"), (id_list,))
                return int(cursor.rowcount)
            condition, params = compile_where_pg(where)
            sql = psycopg().sql
            text = sql.SQL("DELETE FROM {table} WHERE ({cond})").format(
                table=sql.Identifier(self.target.collection), cond=condition
            )
            return int(conn.execute(text, params).rowcount)

    # -- helpers -------------------------------------------------------------------------
    def _sql(self, text: str) -> Any:
        sql = psycopg().sql
        return sql.SQL(text).format(sql.Identifier(self.target.collection))

    @staticmethod
    def _jsonb(value: Any) -> Any:
        return psycopg().types.json.Jsonb(value)

    def _lookup(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """id -> (content hash, metadata) for the ids that exist."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                self._sql("SELECT id, hash, metadata FROM {} WHERE id = ANY(%s)"), (ids,)
            ).fetchall()
        return {id_: (hash_, meta) for id_, hash_, meta in rows}

    @staticmethod
    def _refuse_existing(clash: dict[str, Any]) -> None:
        if clash:
            raise InputError(
                f"{len(clash)} id(s) already in the collection (e.g. {next(iter(clash))!r}): "
                "use upsert to replace them"
            )

    def _embed(
        self, texts: list[str], batch_size: int | None, progress: Progress | None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.space.dim), dtype=np.float32)
        chunk = max(128, batch_size or 0)
        parts = []
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            parts.append(self.encoder.encode(part, kind=Kind.DOCUMENT, batch_size=batch_size))
            report(progress, "embedding", start + len(part), len(texts))
        return check_vectors(np.concatenate(parts), self.space.dim)

    def _copy_rows(
        self,
        conn: Any,
        rows: tuple[list[str], list[str], list[dict[str, Any]], list[str], np.ndarray],
        *,
        upsert: bool,
        progress: Progress | None = None,
    ) -> None:
        """COPY (ids, texts, metadata, hashes, vectors) into a temporary table, then one
        INSERT into the collection."""
        ids, texts, metadata, hashes, vectors = rows
        sql = psycopg().sql
        storage = sql.SQL("{}({})").format(
            sql.SQL(self.settings.storage), sql.Literal(self.space.dim)
        )
        nonzero = [bool(v.any()) for v in np.asarray(vectors)]
        with conn.transaction():
            # Row order (`seq`, what ids() follows) is the input order, fixed here, so the
            # INSERT below is free to lock rows in id order.
            seqs = sorted(
                r[0]
                for r in conn.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'seq')) FROM generate_series(1, %s)",
                    (sql.Identifier(self.target.collection).as_string(conn), len(ids)),
                )
            )
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE embedstack_staging (id text, text text, metadata jsonb, "
                    "hash text, nonzero boolean, embedding {}, seq bigint) ON COMMIT DROP"
                ).format(storage)
            )
            copy_sql = "COPY embedstack_staging FROM STDIN (FORMAT BINARY)"
            with conn.cursor().copy(copy_sql) as copy:
                types = ["text", "text", "jsonb", "text", "bool", self.settings.storage, "int8"]
                copy.set_types(types)
                for n in range(len(ids)):
                    meta = json.loads(json.dumps(metadata[n]))  # plain JSON types only
                    copy.write_row(
                        (ids[n], texts[n], self._jsonb(meta), hashes[n], nonzero[n],
                         to_db(self.settings.storage, vectors[n]), seqs[n])
                    )  # fmt: skip
                    if (n + 1) % COPY_REPORT_ROWS == 0:
                        report(progress, "copy", n + 1, len(ids))
            rebuild = self._drop_index_if_empty(conn) if len(ids) >= BUILD_AFTER_ROWS else None
            insert = (
                "INSERT INTO {} (id, text, metadata, hash, space, nonzero, embedding, seq) "
                "SELECT id, text, metadata, hash, %s, nonzero, embedding, seq "
                "FROM embedstack_staging "
                "ORDER BY id"  # one lock order for all writers: no deadlocks between upserts
            )
            conn.execute(self._sql(insert + (_UPDATE if upsert else "")), (self.space.key(),))
            if rebuild is not None:
                report(progress, "index", 0, None)
                conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (BUILD_MEMORY,))
                conn.execute(rebuild)
        report(progress, "copy", len(ids), len(ids))

    def _drop_index_if_empty(self, conn: Any) -> str | None:
        """Drop the HNSW index of an empty collection (locked against other writers;
        readers still read) and return the server's own statement that re-creates it."""
        conn.execute(self._sql("LOCK TABLE {} IN EXCLUSIVE MODE"))
        if conn.execute(self._sql("SELECT EXISTS (SELECT 1 FROM {})")).fetchone()[0]:
            return None
        row = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND indexdef LIKE %s",
            (self.target.collection, "% USING hnsw %"),
        ).fetchone()
        if row is None:
            return None
        sql = psycopg().sql
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(row[0])))
        return str(row[1])
