"""The tables of a Postgres collection: one per collection, plus a catalogue of manifests.

A collection `kb` is the table `kb` (id, text, metadata JSONB, content hash, the space key
of each row, the vector, a generated `tsvector`) with an HNSW index on the vector and a
GIN index on the tsvector; its manifest (space, model spec, metric, settings) is a row of
`embedstack_collections`. A table the catalogue does not list is never touched. DDL is
composed with `psycopg.sql` (identifiers quoted, numbers validated), never with f-strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedstack.errors import CollectionError
from embedstack.store.manifest import FORMAT_VERSION, Manifest
from embedstack.store.pg_connect import CATALOG, STORAGES, PgTarget, missing_extension, psycopg
from embedstack.types import EmbeddingSpace

# metric -> (distance operator, HNSW operator class suffix)
OPERATORS = {
    "cosine": ("<=>", "cosine_ops"),
    "dot": ("<#>", "ip_ops"),
    "euclidean": ("<->", "l2_ops"),
}


def distance(metric: str, storage: str) -> tuple[str, str]:
    """(operator, HNSW operator class): `bit` storage keeps signs, compared by Hamming."""
    if storage == "bit":
        return "<~>", "bit_hamming_ops"
    operator, ops = OPERATORS[metric]
    return operator, f"{storage}_{ops}"


def similarity(metric: str, storage: str, dim: int, value: float) -> float:
    """A distance from Postgres as the embedded store's score (larger is better). For
    `bit`, 1 - 2 * hamming / dim: the cosine of the two sign vectors."""
    if storage == "bit":
        return 1.0 - 2.0 * value / dim
    return 1.0 - value if metric == "cosine" else -value


def to_db(storage: str, vector: np.ndarray) -> Any:
    """A float32 vector as the column stores it."""
    if storage == "halfvec":
        from pgvector import HalfVector

        return HalfVector(vector)
    if storage == "bit":
        from pgvector import Bit

        return Bit(np.asarray(vector) > 0)
    return vector


def from_db(storage: str, value: Any, dim: int) -> np.ndarray:
    """A stored vector as float32; `bit` rows come back as unit sign vectors (+-1/sqrt(d))."""
    if storage == "bit":
        bits = np.frombuffer(str(value).encode(), dtype=np.uint8) == ord("1")
        return np.where(bits, 1.0, -1.0).astype(np.float32) / np.float32(np.sqrt(dim))
    return np.asarray(value.to_numpy(), dtype=np.float32)


_COLUMNS = {"seq", "id", "text", "metadata", "hash", "space", "nonzero", "embedding", "tsv"}


@dataclass(frozen=True)
class Settings:
    """Fixed when the collection is created (ef_search is per query, from the URL)."""

    storage: str = "vector"
    m: int = 16
    ef_construction: int = 64
    fts_config: str = "english"

    def __post_init__(self) -> None:
        """Settings become SQL text (type names, ops): only known values pass."""
        ints = all(type(v) is int for v in (self.m, self.ef_construction))
        name = re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(self.fts_config))
        if self.storage not in STORAGES or not ints or name is None:
            raise TypeError(f"invalid collection settings {self!r}")

    @classmethod
    def from_target(cls, target: PgTarget) -> Settings:
        """The storage and index settings a connection URL asks for."""
        return cls(target.storage, target.m, target.ef_construction, target.fts_config)


def manifest_from_dict(data: dict[str, Any], where: str) -> Manifest:
    """A Manifest from its stored JSON, refusing versions newer than this code."""
    try:
        version = int(data["format_version"])
        if version > FORMAT_VERSION:
            raise CollectionError(
                f"{where} has format version {version}, newer than this embedstack "
                f"understands ({FORMAT_VERSION}): upgrade embedstack"
            )
        return Manifest(
            space=EmbeddingSpace.from_dict(data["space"]),
            model_spec=str(data["model_spec"]),
            metric=str(data.get("metric", "cosine")),
            indexes={str(k): dict(v) for k, v in data.get("indexes", {}).items()},
            library_version=str(data.get("library_version", "")),
            format_version=version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CollectionError(f"{where}: the stored manifest is corrupt ({exc})") from None


def ensure_extension(conn: Any, target: PgTarget, create: bool) -> None:
    """Make sure pgvector is enabled, creating it if allowed, else a clear error."""
    pg = psycopg()
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    if not create:
        raise CollectionError(missing_extension(target))
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except pg.Error:
        raise CollectionError(missing_extension(target)) from None


def read_entry(conn: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(manifest, settings) of a registered collection, or None."""
    if conn.execute("SELECT to_regclass(%s)", (CATALOG,)).fetchone()[0] is None:
        return None
    sql = psycopg().sql
    query = sql.SQL("SELECT manifest, settings FROM {} WHERE name = %s").format(
        sql.Identifier(CATALOG)
    )
    row = conn.execute(query, (name,)).fetchone()
    return None if row is None else (row[0], row[1])


def table_exists(conn: Any, name: str) -> bool:
    """True when a table (or other relation) of that name exists."""
    return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None


def not_a_collection(target: PgTarget, why: str) -> CollectionError:
    """The error for a table that exists but is not an embedstack collection."""
    return CollectionError(
        f"table {target.collection!r} in {target.display} is not an embedstack collection "
        f"({why}): choose another ?collection= name, or drop that table if it is yours to drop"
    )


def check_table(conn: Any, target: PgTarget, manifest: Manifest, settings: Settings) -> None:
    """The table is there with embedstack's columns and the manifest's dimension."""
    name = target.collection
    if not table_exists(conn, name):
        raise CollectionError(
            f"the catalogue lists collection {name!r} but its table is gone in "
            f"{target.display}: run `DELETE FROM {CATALOG} WHERE name = '{name}'` and re-index"
        )
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (name,),
    ).fetchall()
    columns = dict(rows)
    missing = sorted(_COLUMNS - set(columns))
    if missing:
        raise not_a_collection(target, f"no column {', '.join(missing)}")
    wanted = f"{settings.storage}({manifest.space.dim})"
    if columns["embedding"] != wanted:
        raise CollectionError(
            f"table {name!r} in {target.display} stores {columns['embedding']} but the "
            f"collection's embedding space ({manifest.space.model}) needs {wanted}: the table "
            "was changed outside embedstack; re-index into a new ?collection= name"
        )


def create_tables(conn: Any, target: PgTarget, manifest: Manifest, settings: Settings) -> None:
    """Catalogue row, table and indexes, in the caller's transaction."""
    sql = psycopg().sql
    table = sql.Identifier(target.collection)
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, manifest jsonb NOT NULL, "
            "settings jsonb NOT NULL, created timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(CATALOG))
    )
    vector = sql.SQL("{}({})").format(
        sql.SQL(settings.storage), sql.Literal(int(manifest.space.dim))
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE {table} ("
            "seq bigserial NOT NULL, id text PRIMARY KEY, text text NOT NULL, "
            "metadata jsonb NOT NULL DEFAULT '{{}}', hash text NOT NULL, "
            "space text NOT NULL CHECK (space = {key}), nonzero boolean NOT NULL, "
            "embedding {vector} NOT NULL, "
            "tsv tsvector GENERATED ALWAYS AS (to_tsvector({cfg}::regconfig, text)) STORED)"
        ).format(
            table=table,
            key=sql.Literal(manifest.space.key()),
            vector=vector,
            cfg=sql.Literal(settings.fts_config),
        )
    )
    ops = sql.SQL(distance(manifest.metric, settings.storage)[1])
    conn.execute(
        sql.SQL(
            "CREATE INDEX ON {} USING hnsw (embedding {}) WITH (m = {}, ef_construction = {})"
        ).format(table, ops, sql.Literal(settings.m), sql.Literal(settings.ef_construction))
    )
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gin (tsv)").format(table))
    conn.execute(sql.SQL("CREATE INDEX ON {} (seq)").format(table))
    conn.execute(
        sql.SQL("INSERT INTO {} (name, manifest, settings) VALUES (%s, %s, %s)").format(
            sql.Identifier(CATALOG)
        ),
        (
            target.collection,
            psycopg().types.json.Jsonb(manifest.to_dict()),
            psycopg().types.json.Jsonb(settings.__dict__),
        ),
    )


def lock_catalog(conn: Any) -> None:
    """Serialise creations (two processes creating the same collection at once)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (CATALOG,))
