"""A collection in PostgreSQL + pgvector, behind the same interface as the embedded one.

`Collection.create("postgresql://user@host/db?collection=kb")` lands here. Many
processes can read and write one collection at once (each write is one transaction;
upserts are `INSERT ... ON CONFLICT`). Dense search uses pgvector's HNSW index with
iterative scans, so filtered queries still return k hits; the lexical index is Postgres
full-text search (`fts`: a generated tsvector ranked with `ts_rank`), which the
search pipeline fuses with dense exactly as it fuses BM25.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from embedstack.encoders.base import Encoder
from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.similarity import Metric
from embedstack.store.backend import TextSearch
from embedstack.store.changes import Record
from embedstack.store.manifest import Manifest
from embedstack.store.pg_connect import PgTarget, connect, open_pool, parse_url
from embedstack.store.pg_schema import (
    Settings,
    check_table,
    create_tables,
    ensure_extension,
    from_db,
    lock_catalog,
    manifest_from_dict,
    not_a_collection,
    read_entry,
    table_exists,
)
from embedstack.store.pg_search import PgSearch
from embedstack.store.pg_state import PgState
from embedstack.store.pg_versions import PgVersions
from embedstack.store.pg_writes import PgWrites
from embedstack.types import EmbeddingSpace

if TYPE_CHECKING:
    pass

LEXICAL = "fts"
_ASKED_LEXICAL = ("fts", "bm25")  # BM25 is asked for by default; Postgres answers with fts


def _lexical_indexes(
    indexes: Sequence[str] | Mapping[str, dict[str, Any] | None] | None, target: PgTarget
) -> dict[str, dict[str, Any]]:
    """Postgres collections have one secondary index: full-text search ("fts")."""
    names = ["fts"] if indexes is None else list(indexes)
    other = [n for n in names if n not in _ASKED_LEXICAL]
    if other:
        raise InputError(
            f"PostgreSQL collections have no {', '.join(map(repr, other))} index: their "
            "lexical index is Postgres full-text search ('fts'); use an embedded collection "
            "(a folder) for SPLADE or ColBERT"
        )
    return {LEXICAL: {"config": target.fts_config, "rank": target.fts_rank}} if names else {}


def _require_space(where: str, space: EmbeddingSpace, encoder: Encoder) -> None:
    try:
        space.require_same(encoder.space)
    except SpaceMismatchError as exc:
        raise SpaceMismatchError(f"{where}: {exc}") from None


class PostgresCollection(TextSearch, PgState, PgSearch, PgWrites, PgVersions):
    """Create with `Collection.create(URL)`, reopen with `Collection.open(URL)`."""

    def __init__(
        self, target: PgTarget, manifest: Manifest, settings: Settings, encoder: Encoder | None
    ) -> None:
        self.target = target
        self.manifest = manifest
        self.settings = settings
        self._encoder = encoder
        self._pool = open_pool(target)

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def exists(cls, url: str) -> bool:
        """True when the URL names a collection already registered in that database."""
        target = parse_url(url)
        with connect(target) as conn:
            return read_entry(conn, target.collection) is not None

    @classmethod
    def create(
        cls,
        url: str,
        encoder: Encoder | str | None = None,
        *,
        indexes: Sequence[str] | Mapping[str, dict[str, Any] | None] | None = None,
        exist_ok: bool = False,
        metric: str = "cosine",
    ) -> PostgresCollection:
        """Register a new collection and make its table (`CREATE EXTENSION vector` is run
        when missing, which needs a superuser)."""
        from embedstack import __version__
        from embedstack.store.opening import resolve_encoder

        target = parse_url(url)
        if metric not in {m.value for m in Metric}:
            raise InputError(f"metric must be one of cosine, dot, euclidean; got {metric!r}")
        settings = Settings.from_target(target)
        configs = _lexical_indexes(indexes, target)
        with connect(target) as conn:
            ensure_extension(conn, target, create=True)
            if read_entry(conn, target.collection) is not None:
                if exist_ok:
                    return cls.open(url, encoder)
                raise CollectionError(f"{target.display} is already a collection: open it instead")
        enc, spec = resolve_encoder(encoder)
        manifest = Manifest(enc.space, spec, metric, configs, library_version=__version__)
        with connect(target) as conn, conn.transaction():
            lock_catalog(conn)
            if read_entry(conn, target.collection) is not None:  # created meanwhile
                if not exist_ok:
                    raise CollectionError(
                        f"{target.display} is already a collection: open it instead"
                    )
            elif table_exists(conn, target.collection):
                raise not_a_collection(target, "the embedstack catalogue does not list it")
            else:
                create_tables(conn, target, manifest, settings)
        return cls.open(url, enc)

    @classmethod
    def open(cls, url: str, encoder: Encoder | str | None = None) -> PostgresCollection:
        """Open a registered collection; a given encoder must match its space."""
        from embedstack.store.opening import resolve_encoder

        target = parse_url(url)
        with connect(target) as conn:
            ensure_extension(conn, target, create=False)
            entry = read_entry(conn, target.collection)
            if entry is None:
                if table_exists(conn, target.collection):
                    raise not_a_collection(target, "the embedstack catalogue does not list it")
                raise CollectionError(
                    f"no collection {target.collection!r} in {target.display}: create one with "
                    f"`embedstack index YOUR_FILES --into '{target.display}'`"
                )
            manifest = manifest_from_dict(entry[0], target.display)
            try:
                settings = Settings(**entry[1])
            except TypeError:
                raise not_a_collection(target, f"its catalogue settings are {entry[1]!r}") from None
            check_table(conn, target, manifest, settings)
        enc = None
        if encoder is not None:
            enc = resolve_encoder(encoder)[0]
            _require_space(target.display, manifest.space, enc)
        return cls(target, manifest, settings, enc)

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()

    def __enter__(self) -> PostgresCollection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The URL with its password hidden."""
        return self.target.display

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space every stored vector belongs to."""
        return self.manifest.space

    @property
    def encoder(self) -> Encoder:
        """The encoder recorded in the manifest, loaded on first use."""
        if self._encoder is None:
            from embedstack.store.opening import rebuild_encoder

            self._encoder = rebuild_encoder(cast(Path, self.path), self.manifest)
        return self._encoder

    @property
    def index_names(self) -> list[str]:
        """Names of the secondary indexes kept in step with the rows."""
        return list(self.manifest.indexes)

    def __len__(self) -> int:
        return int(self._fetch("SELECT count(*) FROM {}")[0][0])

    def __repr__(self) -> str:
        return f"PostgresCollection({self.path!r}, model={self.space.model!r})"

    def ids(self) -> list[str]:
        """Ids of the live rows, in insertion order."""
        return [r[0] for r in self._fetch("SELECT id FROM {} ORDER BY seq")]

    def source_paths(self) -> dict[str, str]:
        """id -> the file it was indexed from (the `path` metadata the loaders set)."""
        sql = (
            "SELECT id, metadata ->> 'path' FROM {} "
            "WHERE jsonb_typeof(metadata -> 'path') = 'string'"
        )
        return dict(self._fetch(sql))

    def rebuild_index(self, name: str, config: Mapping[str, Any] | None = None) -> None:
        """The tsvector is a generated column, always in step: rebuilding reindexes it."""
        if name != LEXICAL:
            _lexical_indexes([name], self.target)
        self._fetch("REINDEX TABLE {}", fetch=False)

    def compact(self) -> int:
        """Postgres reclaims deleted rows itself (VACUUM); nothing is left to compact."""
        return 0

    # -- reads ---------------------------------------------------------------------------
    def _fetch(self, text: str, params: Sequence[Any] = (), fetch: bool = True) -> list[Any]:
        with self._pool.connection() as conn:
            cursor = conn.execute(self._sql(text), params)
            return cursor.fetchall() if fetch else []

    def get(self, ids: Sequence[str]) -> list[Record]:
        """Records for the ids that exist, in the order asked (missing ids are left out)."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string: wrap it as [id]")
        rows = self._fetch(
            "SELECT id, text, metadata, embedding FROM {} WHERE id = ANY(%s)", (list(ids),)
        )
        found = {r[0]: r for r in rows}
        storage, dim = self.settings.storage, self.space.dim
        return [
            Record(i, found[i][1], found[i][2], from_db(storage, found[i][3], dim))
            for i in ids
            if i in found
        ]
