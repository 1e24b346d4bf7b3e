"""The one collection interface that both backends implement, and where a location points.

`Collection.create/open` take a folder (the embedded store) or a PostgreSQL URL
(`postgresql://user@host/db?collection=kb`, the pgvector store); callers never branch on
which one they hold. `CollectionBackend` lists what every backend offers, so a new
backend (or a change to one) is checked against the same contract in the tests.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

from embedstack.errors import InputError
from embedstack.progress import Progress
from embedstack.store.filter_hints import warn_range_types
from embedstack.text.analysis import EmptyQueryWarning
from embedstack.types import EmbeddingSpace, Hit, Kind

if TYPE_CHECKING:
    import numpy as np

    from embedstack.encoders.base import Encoder
    from embedstack.store.changes import Record, UpsertReport
    from embedstack.store.manifest import Manifest

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: object) -> bool:
    """True for a PostgreSQL URL (a str; a `Path` always means a folder)."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def as_location(value: str | Path) -> str | Path:
    """A CLI argument as a collection location: a URL stays a string (a `Path` would fold
    its `//`), anything else is a folder."""
    return value if is_database_url(value) else Path(value)


def collection_exists(location: str | Path) -> bool:
    """Whether `location` already holds a collection (a folder with a manifest, or a
    registered Postgres collection)."""
    if is_database_url(location):
        from embedstack.store.postgres import PostgresCollection

        return PostgresCollection.exists(str(location))
    from embedstack.store.manifest import MANIFEST

    return (Path(location) / MANIFEST).is_file()


@runtime_checkable
class CollectionBackend(Protocol):
    """What `Collection` offers, whichever store holds it."""

    manifest: Manifest

    @property
    def path(self) -> Any:
        """The folder, or the database URL with its password hidden."""

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space every stored vector belongs to."""

    @property
    def encoder(self) -> Encoder:
        """The encoder that embeds texts and queries for this collection."""

    @property
    def index_names(self) -> list[str]:
        """Names of the secondary indexes (bm25, splade, ...) kept in step."""

    def __len__(self) -> int: ...
    def ids(self) -> list[str]:
        """Ids of the live rows, in insertion order."""

    def source_paths(self) -> dict[str, str]:
        """id -> the file it was indexed from (the `path` metadata the loaders set)."""

    def get(self, ids: Sequence[str]) -> list[Record]:
        """The stored records for these ids."""

    def add(
        self,
        texts: Sequence[str],
        ids: Sequence[str] | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> list[str]:
        """Embed and store new texts; returns their ids."""

    def upsert(
        self,
        texts: Sequence[str],
        ids: Sequence[str],
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> UpsertReport:
        """Add new ids, re-embed changed texts, skip unchanged ones; reports which was which."""

    def delete(
        self, ids: Sequence[str] | None = None, *, where: dict[str, Any] | None = None
    ) -> int:
        """Remove rows by id or by metadata filter; returns how many were removed."""

    def search(
        self, query: str, k: int = 10, where: dict[str, Any] | None = None, retriever: Any = ...
    ) -> list[Hit]:
        """Top-k hits for a text query, by dense search or the named retriever."""

    def search_vector(
        self, vector: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Top-k hits for a query vector already in this space."""

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """`search_vector` for each row of an (m, dim) matrix."""

    def search_index(
        self, name: str, query: str, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Top-k hits from one secondary index (bm25, splade, ...)."""

    def rebuild_index(self, name: str, config: Mapping[str, Any] | None = None) -> None:
        """Rebuild a secondary index from the stored texts, optionally with new settings."""

    def compact(self) -> int:
        """Reclaim space left by deleted rows; returns how many were reclaimed."""

    def close(self) -> None:
        """Release files, connections and locks."""

    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...


def check_query(query: str) -> str:
    """A query must be text (a list or bytes here is a caller's bug, said plainly)."""
    if not isinstance(query, str):
        raise InputError(f"query must be a string, got {type(query).__name__}")
    return query


class TextSearch:
    """Text queries on any backend, written once: dense ones are embedded (as queries, in
    one batch) and ranked by the backend's `search_vector`; an index name goes to its
    `search_index`. Both backends inherit it."""

    if TYPE_CHECKING:

        @property
        def encoder(self) -> Encoder:
            """The encoder that embeds queries."""

        def search_vector(
            self, vector: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
        ) -> list[Hit]:
            """Top-k hits for a query vector."""

        def search_index(
            self, name: str, query: str, k: int = 10, where: dict[str, Any] | None = None
        ) -> list[Hit]:
            """Top-k hits from one secondary index."""

        def ids_where(self, where: dict[str, Any]) -> list[str]:
            """Ids of the rows a filter matches."""

    @overload
    def search(  # type: ignore[overload-overlap]  # a str is a Sequence[str] too
        self,
        query: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        retriever: str | Any = "dense",
    ) -> list[Hit]: ...

    @overload
    def search(
        self,
        query: Sequence[str],
        k: int = 10,
        where: dict[str, Any] | None = None,
        retriever: str | Any = "dense",
    ) -> list[list[Hit]]: ...

    def search(
        self,
        query: str | Sequence[str],
        k: int = 10,
        where: dict[str, Any] | None = None,
        retriever: str | Any = "dense",
    ) -> list[Hit] | list[list[Hit]]:
        """Top-k hits for `query`, best first; a list of queries gives one list each (dense
        queries are embedded in one batch). `retriever` is "dense", the name of one of the
        collection's indexes (e.g. "bm25"), or any object with `search(query, k, where)`
        (for fused and reranked pipelines see `embedstack.search.Pipeline`)."""
        if not isinstance(query, str):
            queries = list(query)
            if retriever == "dense":
                many = self.search_queries(queries, k, where)
            else:
                many = [self._search_one(q, k, where, retriever) for q in queries]
            warn_range_types(self, where, many, k)
            return many
        hits = self._search_one(query, k, where, retriever)
        warn_range_types(self, where, [hits], k)
        return hits

    def _search_one(
        self, query: str, k: int, where: dict[str, Any] | None, retriever: str | Any
    ) -> list[Hit]:
        if not isinstance(retriever, str):
            if not callable(getattr(retriever, "search", None)):
                raise InputError(
                    f"retriever must be 'dense', an index name or a Retriever, got {retriever!r}"
                )
            return list(retriever.search(query, k, where))
        if retriever == "dense":
            return self.search_queries([query], k, where)[0]
        return self.search_index(retriever, check_query(query), k, where)

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """`search_vector` for each row of an (m, dim) matrix; a backend that can answer
        them together (the embedded store: one snapshot, one graph call) overrides it."""
        return [self.search_vector(vector, k, where) for vector in vectors]

    def search_queries(
        self, queries: Sequence[str], k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """Dense hits for each query: all embedded in one encoder call (as queries), then
        ranked by `search_vectors` (the hits `search_vector` gives each). An empty query
        finds nothing (its vector is the model's "nothing" vector, whose neighbours are
        arbitrary) and says so."""
        texts = [check_query(q) for q in queries]
        wanted = [i for i, q in enumerate(texts) if q.strip()]
        if len(wanted) < len(texts):
            warnings.warn("the query is empty: no dense hits", EmptyQueryWarning, stacklevel=3)
        out: list[list[Hit]] = [[] for _ in texts]
        if wanted:
            vectors = self.encoder.encode([texts[i] for i in wanted], kind=Kind.QUERY)
            for i, hits in zip(wanted, self.search_vectors(vectors, k, where), strict=True):
                out[i] = hits
        return out


def check_setting(key: str, value: object) -> None:
    """A collection setting is a JSON-able dict: refuse anything else before a write."""
    if not isinstance(value, dict):
        raise InputError(f"a setting is a dict, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"setting {key!r} is not JSON-serialisable: {exc}") from None


def check_delete(ids: Sequence[str] | None, where: dict[str, Any] | None) -> list[str] | None:
    """`delete` takes ids or a `where` filter, not both: the ids as a list, or None for
    a filter delete."""
    if (ids is None) == (where is None):
        raise InputError("delete takes ids=[...] or where={...} (one of them, not both)")
    if ids is None:
        return None
    if isinstance(ids, str):
        raise TypeError("ids must be a list of strings, not a single string: wrap it as [id]")
    return list(ids)
