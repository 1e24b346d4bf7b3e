"""Search in a Postgres collection: dense by pgvector's HNSW index, lexical by
Postgres full-text search, both with the same `where` filters as the embedded store.

Dense queries are one round trip on a pooled connection whose session already has
`hnsw.ef_search` and iterative scans (`strict_order`) set, so a selective filter still
returns k hits in order. The lexical index `fts` matches a text when any query word
does and ranks by `ts_rank` (or `ts_rank_cd`, chosen with `?fts_rank=` when the
collection is made), divided by 1 + log(length); see the README's "Scaling out" for how
that differs from BM25.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.errors import CollectionError, InputError
from embedstack.store.flat import check_vectors
from embedstack.store.pg_connect import FTS_RANKS, psycopg
from embedstack.store.pg_filters import compile_where_pg
from embedstack.store.pg_schema import distance, similarity, to_db
from embedstack.types import EmbeddingSpace, Hit

if TYPE_CHECKING:
    from embedstack.store.manifest import Manifest
    from embedstack.store.pg_connect import PgTarget
    from embedstack.store.pg_schema import Settings

log = logging.getLogger(__name__)


class PgSearch:
    """The search half of `PostgresCollection`."""

    if TYPE_CHECKING:
        target: PgTarget
        settings: Settings
        manifest: Manifest
        _pool: Any

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        @property
        def path(self) -> str:
            """The URL with its password hidden."""

        @property
        def index_names(self) -> list[str]:
            """Names of the collection's secondary indexes."""

    def search_vector(
        self, vector: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Top-k by the HNSW index (iterative scans keep filtered queries at k hits);
        an all-zero query finds nothing and all-zero rows are never hits."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        check_vectors(query[None, :], self.space.dim)
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        if not query.any():
            log.warning("the query vector is all zeros (no known words?): no dense hits")
            return []
        condition, params = compile_where_pg(where)
        metric, storage = self.manifest.metric, self.settings.storage
        operator = distance(metric, storage)[0]
        sql = psycopg().sql
        text = sql.SQL(
            "SELECT id, text, metadata, embedding {op} %s AS distance FROM {table} "
            "WHERE nonzero AND ({cond}) ORDER BY embedding {op} %s LIMIT %s"
        ).format(op=sql.SQL(operator), table=sql.Identifier(self.target.collection), cond=condition)
        value = to_db(storage, query)
        with self._pool.connection() as conn:
            if k <= self.target.ef_search:  # the session's settings (one round trip)
                rows = conn.execute(text, [value, *params, value, k]).fetchall()
            else:
                with conn.transaction():  # widen the candidate list for this query
                    ef = str(min(1000, k))
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (ef,))
                    rows = conn.execute(text, [value, *params, value, k]).fetchall()
        dim = self.space.dim
        return self._hits(
            [(r[0], r[1], r[2], similarity(metric, storage, dim, float(r[3]))) for r in rows],
            "dense",
        )

    def search_index(
        self, name: str, query: str, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Top-k by Postgres full-text search: any query term matches (OR), ranked by
        `ts_rank` (how often the query's words occur) or `ts_rank_cd` (cover density)."""
        from embedstack.text.analysis import EmptyQueryWarning

        if name not in self.manifest.indexes:
            raise CollectionError(
                f"collection {self.path} has no {name!r} index (it has: "
                f"{', '.join(self.index_names) or 'none'}); use 'dense' or 'fts'"
            )
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        rank = self.manifest.indexes[name].get("rank", "ts_rank")
        if rank not in FTS_RANKS:
            raise CollectionError(f"{self.path}: unknown fts rank {rank!r} in the manifest")
        condition, params = compile_where_pg(where)
        sql = psycopg().sql
        with self._pool.connection() as conn:
            lexemes = conn.execute(
                "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))",
                (self.settings.fts_config, query),
            ).fetchone()[0]
            if not lexemes:
                warnings.warn(
                    f"the query {query!r} has no searchable words (only stop words or "
                    "punctuation): no full-text hits",
                    EmptyQueryWarning,
                    stacklevel=3,
                )
                return []
            tsquery = " | ".join(
                "'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in lexemes
            )
            text = sql.SQL(
                "SELECT id, text, metadata, {rank}(tsv, q, 1) AS score "
                "FROM {table}, to_tsquery('simple', %s) AS q "
                "WHERE tsv @@ q AND ({cond}) ORDER BY score DESC, seq LIMIT %s"
            ).format(
                rank=sql.Identifier(rank),
                table=sql.Identifier(self.target.collection),
                cond=condition,
            )
            rows = conn.execute(text, [tsquery, *params, k]).fetchall()
        return self._hits([(r[0], r[1], r[2], float(r[3])) for r in rows], name)

    @staticmethod
    def _hits(rows: list[tuple[str, str, dict[str, Any], float]], stage: str) -> list[Hit]:
        return [
            Hit(id_, score, text, meta, {stage: {"score": score, "rank": rank}})
            for rank, (id_, text, meta, score) in enumerate(rows, start=1)
        ]
