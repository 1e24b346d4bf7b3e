"""Reads of a collection: get by id, dense search, secondary-index search.

Every read runs through `Collection._read`, i.e. on one consistent generation (one
SQLite read snapshot and the files it lists). A score that is not finite means a
damaged vector: it is refused, never returned (JSON has no NaN).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from embedstack.errors import InputError, StorageError
from embedstack.similarity import topk
from embedstack.store.backend import TextSearch
from embedstack.store.changes import Record
from embedstack.store.flat import FlatVectors
from embedstack.store.own_vectors import check_own_vectors
from embedstack.types import Hit

if TYPE_CHECKING:
    from embedstack.store.indexes import SecondaryIndex
    from embedstack.store.manifest import Manifest
    from embedstack.store.records import RecordStore
    from embedstack.types import EmbeddingSpace

log = logging.getLogger(__name__)


T = TypeVar("T")


def vectors_hint(folder: Path) -> str:
    """How to repair a damaged vector file: re-embed the stored texts of its rows."""
    return (
        f"repair it with `embedstack index YOUR_FILES --into {folder} --rebuild-vectors` "
        "(re-embeds the stored texts of the damaged file), or restore it from a backup"
    )


class CollectionReads(TextSearch):
    """The read half of `Collection`."""

    if TYPE_CHECKING:
        path: Path
        manifest: Manifest
        _store: RecordStore
        _vectors: FlatVectors

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        def _read(self, work: Callable[[], T]) -> T: ...
        def _query(self, work: Callable[[], T]) -> T: ...
        def _rows_where(self, where: dict[str, Any]) -> np.ndarray: ...
        def _alive_rows(self) -> np.ndarray: ...
        def _index(self, name: str) -> SecondaryIndex: ...

    # -- reads ---------------------------------------------------------------------------
    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> stored content hash, for the ids present (lets callers skip unchanged
        items before computing anything, e.g. images by file hash)."""
        return self._query(
            lambda: {i: found[1] for i, found in self._store.lookup(list(ids)).items()}
        )

    def source_paths(self) -> dict[str, str]:
        """id -> the file it was indexed from (the `path` metadata the loaders set)."""
        return self._query(self._store.source_paths)

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids of the rows a metadata filter matches, in insertion order; e.g. delete by
        filter: `collection.delete(collection.ids_where({"source": "a.txt"}))`."""

        def matching() -> list[str]:
            rows = self._store.rows_where(where)
            data = self._store.fetch_rows(rows.tolist())
            return [data[int(row)][0] for row in rows if int(row) in data]

        return self._query(matching)

    def get(self, ids: Sequence[str]) -> list[Record]:
        """Records for the ids that exist, in the order asked (missing ids are left out)."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string: wrap it as [id]")

        def work() -> list[Record]:
            found = self._store.lookup(list(ids))
            order = [found[i][0] for i in ids if i in found]
            data = self._store.fetch_rows(order)
            vectors = self._vectors.take(np.asarray(order, dtype=np.int64))
            return [Record(*data[row], vector=vectors[n]) for n, row in enumerate(order)]

        return self._read(work)

    def search_vector(
        self,
        vector: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        exact: bool = False,
    ) -> list[Hit]:
        """Top-k by the collection's metric; `where` filters before ranking. Through the
        collection's vector index (HNSW, compressed codes) if it has one, unless `exact`:
        the float32 scan, the reference. Filtered searches give k hits if k rows match.

        All-zero vectors carry no meaning (e.g. a static encoder's out-of-vocabulary-only
        text): a zero query finds nothing, and zero rows are never returned as hits."""
        query = check_own_vectors(vector, self.space.dim, ["query"])
        if query.shape[0] != 1:
            raise InputError(
                f"search_vector takes one vector, got {query.shape[0]}: use "
                "search_vectors(matrix, k) to search many at once"
            )
        return self._search_checked(query, k, where, exact)[0]

    def search_vectors(
        self,
        vectors: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        exact: bool = False,
    ) -> list[list[Hit]]:
        """`search_vector` for each row of an (m, dim) matrix, in one read: one snapshot,
        one batched graph search on every core, one fetch of all hit rows. The hits are
        those `search_vector` gives each row; batching only saves per-call overhead."""
        queries = np.asarray(vectors, dtype=np.float32)
        names = [f"query {i}" for i in range(queries.shape[0])] if queries.ndim == 2 else None
        queries = check_own_vectors(queries, self.space.dim, names)
        return self._search_checked(queries, k, where, exact)

    def _search_checked(
        self, queries: np.ndarray, k: int, where: dict[str, Any] | None, exact: bool
    ) -> list[list[Hit]]:
        """`search_vectors` of queries already checked (shape, finite)."""
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        wanted = np.flatnonzero(queries.any(axis=1))
        if len(wanted) < len(queries):
            log.warning("the query vector is all zeros (no known words?): no dense hits")
        if len(wanted) == 0:
            return [[] for _ in queries]

        def work() -> list[list[Hit]]:
            rows = self._rows_where(where) if where else self._alive_rows()
            found = None
            if not exact:
                found = self._search_vector_index(queries[wanted], k, rows, bool(where))  # type: ignore[attr-defined]
            if found is None:
                full = not where and len(rows) == self._vectors.total
                found = [self._exact(q, None if full else rows, k) for q in queries[wanted]]
            out: list[list[Hit]] = [[] for _ in queries]
            for i, hits in zip(wanted, self._hits_many(found, "dense"), strict=True):
                out[i] = hits
            return out

        return self._read(work)

    def _exact(
        self, query: np.ndarray, rows: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The float32 scan of all rows (rows None) or of `rows`."""
        values = self._vectors.scores(query, self._metric, rows)
        return self._top_nonzero(values, rows, k)

    def _top_nonzero(
        self, values: np.ndarray, rows: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k row ids and scores, skipping all-zero stored vectors (checked on the
        winners only, widening the search in the rare case some were zero)."""
        want = k
        while True:
            best, top = topk(values, want)
            ids = best if rows is None else rows[best]
            keep = self._vectors.take(ids).any(axis=1)
            if keep.sum() >= k or want >= len(values):
                return ids[keep][:k], top[keep][:k]
            want *= 4

    def search_index(
        self, name: str, query: str, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Top-k from a secondary index (e.g. "bm25"); `where` filters before ranking."""
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")

        def work() -> list[Hit]:
            index = self._index(name)
            allowed = self._rows_where(where) if where else None
            rows, values = index.search(query, k, allowed)
            return self._hits(np.asarray(rows), np.asarray(values), name)

        return self._read(work)

    @property
    def _metric(self) -> str:
        # Stored vectors of a normalising space are unit length: cosine is a dot product.
        if self.manifest.metric == "cosine" and self.space.normalize:
            return "dot"
        return self.manifest.metric

    def _hits(self, rows: np.ndarray, values: np.ndarray, stage: str) -> list[Hit]:
        return self._hits_many([(rows, values)], stage)[0]

    def _hits_many(
        self, found: Sequence[tuple[np.ndarray, np.ndarray]], stage: str
    ) -> list[list[Hit]]:
        """Hits of several result lists, their rows fetched in one query."""
        every = [values for _, values in found]
        if every and not np.isfinite(every[0] if len(every) == 1 else np.concatenate(every)).all():
            self._refuse_overflow(found)
        if len(found) == 1:  # one query: its rows are distinct already
            wanted = np.asarray(found[0][0], dtype=np.int64)
        else:
            wanted = np.unique(np.concatenate([np.asarray(r, dtype=np.int64) for r, _ in found]))
        data = self._store.fetch_rows(wanted.tolist())
        out: list[list[Hit]] = []
        seen: set[int] = set()
        for rows, values in found:
            hits: list[Hit] = []
            pairs = zip(np.asarray(rows).tolist(), values.tolist(), strict=True)
            for rank, (row, value) in enumerate(pairs, 1):
                id_, text, metadata = data[row]
                if row in seen:  # hit by several queries: each hit owns its metadata
                    metadata = copy.deepcopy(metadata)
                seen.add(row)
                hits.append(
                    Hit(id_, value, text, metadata, {stage: {"score": value, "rank": rank}})
                )
            out.append(hits)
        return out

    def _refuse_overflow(self, found: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Finite vectors can still overflow float32: name the damaged row."""
        for rows, values in found:
            if not np.isfinite(values).all():
                bad = int(np.asarray(rows)[~np.isfinite(values)][0])
                raise StorageError(
                    f"row {bad} of {self.path} scores {values[~np.isfinite(values)][0]} for "
                    f"this query: its stored vector is damaged; {vectors_hint(self.path)}"
                )
