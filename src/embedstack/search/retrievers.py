"""Retrievers: one `search(query, k, where=None) -> list[Hit]` method each.

Dense and index retrievers read from one collection; fusion and reranking compose
retrievers without caring which kind they hold. Each hit records its stage under
`hit.stages[name] = {"score": ..., "rank": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from embedstack.errors import CollectionError, InputError
from embedstack.store.backend import check_query
from embedstack.types import Hit

if TYPE_CHECKING:
    from embedstack.store.collection import Collection


@runtime_checkable
class Retriever(Protocol):
    """Anything with `search`; `search_many` is optional (see `search_many` below)."""

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k hits for `query`, best first, restricted by the metadata filter `where`."""
        ...


def search_many(
    retriever: Retriever,
    queries: Sequence[str],
    k: int = 10,
    where: dict[str, Any] | None = None,
) -> list[list[Hit]]:
    """One hit list per query: the retriever's own batched `search_many` when it has one
    (dense embeds all queries in one call), else one `search` per query."""
    batched = getattr(retriever, "search_many", None)
    if callable(batched):
        return list(batched(queries, k, where))
    return [retriever.search(query, k, where) for query in queries]


class DenseRetriever:
    """Embeds the query with the collection's encoder (as a query) and ranks by vector
    similarity, exactly."""

    name = "dense"

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k rows by the collection's metric; an empty query finds nothing."""
        return self.search_many([query], k, where)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """All queries embedded in one encoder call, then each ranked exactly by the
        collection (the same scoring code as `search`, so the lists are identical)."""
        return self.collection.search_queries(queries, k, where)


class IndexRetriever:
    """Searches one of the collection's secondary indexes by name, e.g. "bm25"."""

    def __init__(self, collection: Collection, name: str) -> None:
        if name not in collection.index_names:
            raise CollectionError(
                f"collection {collection.path} has no {name!r} index (it has: "
                f"{', '.join(collection.index_names) or 'none'}); use 'dense', or re-index "
                "with that index enabled"
            )
        self.collection = collection
        self.name = name

    def search(self, query: str, k: int = 10, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k rows of the named index (e.g. BM25 scores), best first."""
        return self.collection.search_index(self.name, check_query(query), k, where)

    def search_many(
        self, queries: Sequence[str], k: int = 10, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """One `search` per query (index lookups have nothing to batch)."""
        return [self.search(query, k, where) for query in queries]


def resolve_retriever(collection: Collection, retriever: str | Retriever) -> Retriever:
    """ "dense", an index name, or an object that already is a retriever."""
    if isinstance(retriever, str):
        if retriever == "dense":
            return DenseRetriever(collection)
        return IndexRetriever(collection, retriever)
    if isinstance(retriever, Retriever):
        return retriever
    raise InputError(f"retriever must be 'dense', an index name or a Retriever, got {retriever!r}")
