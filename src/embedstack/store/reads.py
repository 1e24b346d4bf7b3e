"""Reads of a collection: get by id, dense search, secondary-index search.

Every read runs through `Collection._read`, i.e. on one consistent generation (one
SQLite read snapshot and the files it lists). A score that is not finite means a
damaged vector: it is refused, never returned (JSON has no NaN).
"""

from __future__ import annotations

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
        query = check_own_vectors(vector, self.space.dim, ["query"]).reshape(-1)
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        if not query.any():
            log.warning("the query vector is all zeros (no known words?): no dense hits")
            return []

        def work() -> list[Hit]:
            rows = self._rows_where(where) if where else self._alive_rows()
            found = None if exact else self._search_vector_index(query, k, rows, bool(where))  # type: ignore[attr-defined]
            if found is not None:
                return self._hits(found[0], found[1], "dense")
            full = not where and len(rows) == self._vectors.total
            values = self._vectors.scores(query, self._metric, None if full else rows)
            ids, top = self._top_nonzero(values, None if full else rows, k)
            return self._hits(ids, top, "dense")

        return self._read(work)

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
        if not np.isfinite(values).all():  # finite vectors can still overflow float32
            bad = int(np.asarray(rows)[~np.isfinite(values)][0])
            raise StorageError(
                f"row {bad} of {self.path} scores {values[~np.isfinite(values)][0]} for this "
                f"query: its stored vector is damaged; {vectors_hint(self.path)}"
            )
        data = self._store.fetch_rows([int(r) for r in rows])
        hits: list[Hit] = []
        for row, value in zip(rows, values, strict=True):
            id_, text, metadata = data[int(row)]
            stages = {stage: {"score": float(value), "rank": len(hits) + 1}}
            hits.append(Hit(id_, float(value), text, metadata, stages))
        return hits
