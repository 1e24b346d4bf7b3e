"""Secondary indexes (BM25, SPLADE, ColBERT, ...) that live inside a collection.

An index is a class with:

- `name: str` and `config() -> dict` (JSON-able keyword arguments: `cls(**config)`
  must build an equivalent empty index);
- `add(rows: np.ndarray, texts: list[str])` and `delete(rows: np.ndarray)`, where rows
  are the collection's internal integer row ids;
- `save(directory: Path)` (write everything into that new, empty folder) and
  `classmethod load(directory: Path, config: dict)`;
- `search(query: str, k: int, allowed: np.ndarray | None) -> (rows, scores)`, best
  first, only rows in `allowed` (sorted row ids) when it is given.

The collection saves every index into a fresh folder on each write and switches to it
in the same database commit as the rows and vectors, so an index never disagrees with
the collection. Register a class by name in `INDEX_TYPES` ("module:Class" or the class).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from embedstack.errors import CollectionError

INDEX_TYPES: dict[str, str | type] = {
    "bm25": "embedstack.store.bm25:BM25Index",
    "colbert": "embedstack.store.colbert:ColbertIndex",
    "splade": "embedstack.store.sparse:SpladeIndex",
    # Vector indexes (takes_vectors = True): fed rows and vectors, not texts.
    "hnsw": "embedstack.store.hnsw:HnswIndex",
    "compressed": "embedstack.store.vecindex:CompressedIndex",
}

# Built for every new text collection unless turned off (when the module is installed).
DEFAULT_INDEXES: tuple[str, ...] = ("bm25",)


@runtime_checkable
class SecondaryIndex(Protocol):
    """What a secondary index (BM25, SPLADE, ...) must offer to stay in step with a collection."""

    name: str

    def config(self) -> dict[str, Any]:
        """The settings that define the index, saved with it."""

    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        """Index `texts` under their row ids."""

    def delete(self, rows: np.ndarray) -> None:
        """Drop these rows from the index."""

    def save(self, directory: Path) -> None:
        """Write the index's files into `directory`."""

    def search(
        self, query: str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores), best first, limited to `allowed` rows when given."""


@runtime_checkable
class VectorIndex(Protocol):
    """A secondary index over the collection's vectors (HNSW, compressed codes): `add`
    takes `(rows, vectors)`, and search goes through store/vector_search.py."""

    name: str
    takes_vectors: bool

    def config(self) -> dict[str, Any]:
        """The settings that define the index, saved with it."""

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Index `vectors` under their row ids."""

    def delete(self, rows: np.ndarray) -> None:
        """Drop these rows from the index."""

    def save(self, directory: Path) -> None:
        """Write the index's files into `directory`."""


def is_vector_index(name: str) -> bool:
    """Whether `name` is a vector index; asked on every search, so answered from a cache
    of the registered classes."""
    target = INDEX_TYPES.get(name)
    if target not in _VECTOR_KIND:
        _VECTOR_KIND[target] = bool(getattr(index_class(name), "takes_vectors", False))
    return _VECTOR_KIND[target]


_VECTOR_KIND: dict[Any, bool] = {}


def feed_index(
    index: SecondaryIndex | VectorIndex,
    rows: np.ndarray,
    texts: Callable[[], list[str]],
    vectors: Callable[[], np.ndarray],
) -> None:
    """Add rows to any index: a vector index gets their vectors, the others their texts
    (each fetched only when needed)."""
    if getattr(index, "takes_vectors", False):
        index.add(rows, vectors())  # type: ignore[arg-type]
    else:
        index.add(rows, texts())  # type: ignore[arg-type]


def _target(name: str) -> str | type:
    try:
        return INDEX_TYPES[name]
    except KeyError:
        raise CollectionError(
            f"unknown index type {name!r}: known types are {', '.join(sorted(INDEX_TYPES))}"
        ) from None


def available(name: str) -> bool:
    """Whether an index type is registered and its module can be imported."""
    target = INDEX_TYPES.get(name)
    if target is None:
        return False
    if isinstance(target, type):
        return True
    return importlib.util.find_spec(target.split(":")[0]) is not None


def default_indexes() -> tuple[str, ...]:
    """Indexes new collections get: the defaults whose dependencies are installed."""
    return tuple(name for name in DEFAULT_INDEXES if available(name))


def index_configs(
    indexes: Sequence[str] | Mapping[str, dict[str, Any] | None] | None,
) -> dict[str, dict[str, Any] | None]:
    """`{name: settings}` from what `Collection.create(indexes=...)` accepts: None (the
    defaults), index names (default settings) or a mapping name -> settings (or None)."""
    if indexes is None:
        return dict.fromkeys(default_indexes())
    if isinstance(indexes, str):
        raise CollectionError(
            f"indexes must be a list of index names or a mapping name -> settings, not the "
            f"string {indexes!r}: write indexes=[{indexes!r}]"
        )
    if not isinstance(indexes, Mapping):
        return dict.fromkeys(indexes)
    configs: dict[str, dict[str, Any] | None] = {}
    for name, config in indexes.items():
        if config is not None and not isinstance(config, Mapping):
            raise CollectionError(
                f"the settings of index {name!r} must be a dict such as "
                f"{{'model': 'path/to/model'}} or None, got {config!r}"
            )
        configs[name] = None if config is None else dict(config)
    return configs


def index_class(name: str) -> Any:
    """The class implementing an index type, imported on demand; a clear error if unavailable."""
    target = _target(name)
    if isinstance(target, type):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise CollectionError(
            f"index type {name!r} needs {target}, which is not available ({exc}); "
            "install the embedstack version that provides it, or create the collection "
            "without this index"
        ) from exc


def new_index(name: str, config: dict[str, Any] | None = None) -> SecondaryIndex:
    """A new, empty index of the named type with these settings."""
    cls = index_class(name)
    # Indexes whose config nests objects (BM25's analyzer) rebuild them in from_config.
    if hasattr(cls, "from_config"):
        return cls.from_config(config or {})
    return cls(**(config or {}))


def rebuild_hint(name: str, folder: Path) -> str:
    """How to repair a missing or damaged index: it is rebuilt from the stored texts."""
    return (
        f"repair it with `embedstack index YOUR_FILES --into {folder} --rebuild-indexes` "
        f"(rebuilds it from the stored texts), or in Python "
        f"`Collection.open({str(folder)!r}).rebuild_index({name!r})`"
    )


def load_index(name: str, directory: Path, config: dict[str, Any], folder: Path) -> SecondaryIndex:
    """Load a saved index of the collection at `folder`; refuse with the repair command."""
    if not directory.is_dir():
        raise CollectionError(
            f"the {name} index folder {directory} is missing; {rebuild_hint(name, folder)}"
        )
    try:
        return index_class(name).load(directory, config)
    except CollectionError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise CollectionError(
            f"the {name} index in {directory} is unreadable ({exc}); {rebuild_hint(name, folder)}"
        ) from exc
