"""An embedded collection: a folder of texts, vectors and indexes, searchable offline.

Layout: `manifest.json` (embedding space, model spec, index configs), `store.sqlite`
(rows, content hashes, metadata, the list of live files with their checksums, the write
journal), `vectors/*.npy` (append-only segments, memory-mapped) and
`indexes/<name>-<write>-<n>/` (one folder per saved index state). Every write puts new
files under new names carrying its id, fsyncs them, then commits one SQLite transaction
that lists them (see `store/commit.py`). Every read runs in one SQLite read snapshot and
retries when a concurrent commit removed the files of the generation it started on, so
a search never mixes two states. Readers never take the write lock. Within a process a
collection can be shared between threads (calls are serialised).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import CollectionError, InputError, SpaceMismatchError, StorageError
from embedstack.similarity import Metric
from embedstack.sqlite import classify
from embedstack.store.backend import is_database_url
from embedstack.store.changes import Record, UpsertReport
from embedstack.store.checksums import verify_tree
from embedstack.store.flat import FlatVectors
from embedstack.store.indexes import (
    SecondaryIndex,
    index_configs,
    load_index,
    new_index,
    rebuild_hint,
)
from embedstack.store.manifest import MANIFEST, Manifest
from embedstack.store.opening import (
    INDEXES_DIR,
    check_leftovers,
    rebuild_encoder,
    require_space,
    resolve_encoder,
)
from embedstack.store.own_vectors import OwnVectors, require_encoder
from embedstack.store.reads import CollectionReads, vectors_hint
from embedstack.store.records import DATABASE, RecordStore
from embedstack.store.vecindex import create_vector_config, vector_index_asked
from embedstack.store.versioned import CollectionVersions
from embedstack.store.versions import locate, version_folder
from embedstack.types import EmbeddingSpace

__all__ = ["Collection", "Record", "UpsertReport"]
log = logging.getLogger(__name__)
T = TypeVar("T")
_FILTER_CACHE = 64  # filters whose matching rows are kept between writes
_READ_ATTEMPTS = 5  # a read retries when a concurrent commit removed its generation's files


def _database_hint(folder: Path) -> str:
    return (
        f"nothing was changed in {folder}. Restore {DATABASE} from a backup, or re-index "
        f"into a new folder: `embedstack index YOUR_FILES --into NEW_FOLDER`"
    )


class Collection(CollectionReads, CollectionVersions, OwnVectors):
    """Create with `Collection.create`, reopen with `Collection.open`."""

    def __init__(self, path: Path, manifest: Manifest, encoder: Encoder | None) -> None:
        self.path = path
        self.root, self.version = locate(path)  # see store/versions.py
        self._siblings: dict[str, Collection] = {}
        self.manifest = manifest
        self._encoder = encoder
        self._store = RecordStore(path / DATABASE, hint=_database_hint(path))
        self._vectors = FlatVectors(path, manifest.space.dim)
        self._indexes: dict[str, SecondaryIndex] = {}
        self._index_dirs: dict[str, tuple[str, str | None]] = {}
        self._generation = -1
        self._alive: np.ndarray | None = None
        self._filtered: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self.lock_timeout: float | None = 600.0  # seconds a write waits for another writer

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        encoder: Encoder | str | None = None,
        *,
        indexes: Sequence[str] | Mapping[str, dict[str, Any] | None] | None = None,
        exist_ok: bool = False,
        metric: str = "cosine",
        dim: int | None = None,
        ann: str = "exact",
        storage: str | None = None,
        rescore: str | None = None,
        ann_settings: dict[str, Any] | None = None,
    ) -> Collection:
        """Make a new collection folder. `encoder` is an Encoder or a model spec (None:
        `EMBEDSTACK_MODEL` or the default model). `indexes` None means the default
        secondary indexes (BM25 when installed); `()` means none; names use each index's
        default settings, and a mapping gives settings per index, e.g.
        `{"bm25": None, "colbert": {"model": "path/to/colbert"}}`. A `postgresql://` URL
        makes a PostgreSQL collection instead (see `store/postgres.py`).

        Without an encoder but with `dim`, the collection holds your own vectors (add them
        with `add(ids=..., vectors=...)`). `ann` ("exact" or "hnsw"), `storage` ("float32",
        "float16", "int8", "binary"; default float32, and float16 codes rescored with
        float32 for hnsw), `rescore` ("none", "float32", "int8") and
        `ann_settings` (e.g. `{"dims": 256, "connectivity": 32}`) choose the vector index
        (store/vecindex.py)."""
        if is_database_url(path):
            from embedstack.store.postgres import PostgresCollection

            if dim is not None or vector_index_asked(ann, storage, rescore):
                raise InputError(
                    "dim, ann, storage and rescore apply to embedded (folder) collections; "
                    "a PostgreSQL collection indexes with pgvector: drop those arguments"
                )

            made = PostgresCollection.create(
                str(path), encoder, indexes=indexes, exist_ok=exist_ok, metric=metric
            )
            return cast(Collection, made)  # same public interface: CollectionBackend
        from embedstack.atomic import remove

        folder = Path(path)
        if (folder / MANIFEST).exists():
            if exist_ok:
                return cls.open(folder, encoder)
            raise CollectionError(
                f"{folder} is already a collection: open it instead (Collection.open), or "
                "pass exist_ok=True to reopen it when its embedding space matches"
            )
        check_leftovers(folder)
        if metric not in {m.value for m in Metric}:
            raise InputError(f"metric must be one of cosine, dot, euclidean; got {metric!r}")
        own = encoder is None and dim is not None
        enc, spec = (None, "") if own else resolve_encoder(encoder)
        space, configs = create_vector_config(
            enc, dim, index_configs(() if own and indexes is None else indexes), metric,
            ann=ann, storage=storage, rescore=rescore, settings=ann_settings,
        )  # fmt: skip
        from embedstack import __version__

        manifest = Manifest(
            space=space,
            model_spec=spec,
            metric=metric,
            indexes={name: new_index(name, config).config() for name, config in configs.items()},
            library_version=__version__,
        )
        for leftover in folder.glob("*") if folder.exists() else ():
            remove(leftover)  # an empty database from a create that crashed
        folder.mkdir(parents=True, exist_ok=True)
        RecordStore(folder / DATABASE, create=True).close()
        manifest.write(folder)  # last: the manifest marks a complete collection
        return cls(folder, manifest, enc)

    @classmethod
    def open(
        cls, path: str | Path, encoder: Encoder | str | None = None, *, version: str | None = None
    ) -> Collection:
        """Open an existing collection at the version its `current` alias points at, or
        at `version` (a version or alias name); nothing on disk is changed. Without an
        encoder, it is rebuilt from the manifest's model spec when first needed; a given
        one must match the space."""
        if is_database_url(path):
            from embedstack.store.postgres import PostgresCollection

            if version is not None:
                raise CollectionError("versions are kept by folder collections only")
            return cast(Collection, PostgresCollection.open(str(path), encoder))
        folder = Path(path)
        if (folder / MANIFEST).is_file():
            folder = version_folder(folder, version)
        manifest = Manifest.read(folder)
        enc = None
        if encoder is not None:
            enc = resolve_encoder(encoder)[0]
            require_space(folder, manifest.space, enc)
        return cls(folder, manifest, enc)

    def close(self) -> None:
        """Close the collection's record database (and other versions it wrote to)."""
        for sibling in self._siblings.values():
            sibling.close()
        self._store.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space every stored vector belongs to."""
        return self.manifest.space

    @property
    def encoder(self) -> Encoder:
        """The encoder recorded in the manifest, loaded on first use."""
        if self._encoder is None:
            require_encoder(self.manifest.model_spec, self.path)
            try:
                self._encoder = rebuild_encoder(self.path, self.manifest)
            except SpaceMismatchError:
                self._query(self._refresh)  # a hand-edited manifest "dim" is blamed on it
                raise
        return self._encoder

    @property
    def index_names(self) -> list[str]:
        """Names of the secondary indexes kept in step with the rows."""
        return list(self.manifest.indexes)

    def __len__(self) -> int:
        return self._query(self._store.count)

    def __bool__(self) -> bool:
        return True  # an empty collection is still a collection (`existing or create(...)`)

    def __repr__(self) -> str:
        return f"Collection({str(self.path)!r}, model={self.space.model!r}, rows={len(self)})"

    def ids(self) -> list[str]:
        """Ids of the live rows, in insertion order."""
        return self._query(self._store.ids)

    # -- state ---------------------------------------------------------------------------
    def _query(self, work: Callable[[], T]) -> T:
        """Run database-only reads in one snapshot, with damage reported clearly."""
        with self._lock:
            try:
                with self._store.reading():
                    return work()
            except sqlite3.Error as exc:
                raise classify(exc, self._store.path, _database_hint(self.path)) from exc
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise StorageError(
                    f"database {self._store.path} holds damaged text ({exc}); "
                    + _database_hint(self.path)
                ) from exc

    def _read(self, work: Callable[[], T]) -> T:
        """Run `work` on one consistent generation: one read snapshot of the database
        and the files it lists. A writer in another process may delete the files of an
        older generation right after its commit; a read that finds them gone while the
        generation moved on starts again on the new one."""
        with self._lock:
            for attempt in range(_READ_ATTEMPTS):
                seen = self._generation

                def snapshot() -> T:
                    nonlocal seen
                    self._refresh()
                    seen = self._generation
                    return work()

                try:
                    return self._query(snapshot)
                except (CollectionError, OSError):
                    current = self._query(self._store.generation)
                    if current == seen or attempt == _READ_ATTEMPTS - 1:
                        raise
                    log.debug("generation %d replaced by %d during a read: retry", seen, current)
                    self._forget_state()
            raise AssertionError("unreachable")

    def _forget_state(self) -> None:
        self._indexes.clear()
        self._generation = -1

    def _refresh(self) -> None:
        """Load the generation the current transaction sees (call inside one)."""
        generation = self._store.generation()
        if generation == self._generation:
            return
        self._vectors.load(self._store.segments(), vectors_hint(self.path))
        dirs = self._store.index_dirs()
        for name in list(self._indexes):
            if dirs.get(name) != self._index_dirs.get(name):
                del self._indexes[name]
        self._index_dirs = dirs
        self._alive = None
        self._filtered.clear()
        self._generation = generation

    def _alive_rows(self) -> np.ndarray:
        if self._alive is None:
            self._alive = self._store.alive_rows()
        return self._alive

    def _rows_where(self, where: dict[str, Any]) -> np.ndarray:
        """Rows passing a filter, cached until the next write: SQLite evaluates JSON
        filters row by row (~100 ms per 100k rows), and the same filter is often reused."""
        try:
            key = json.dumps(where, sort_keys=True)
        except (TypeError, ValueError, RecursionError):
            return self._store.rows_where(where)  # unserialisable: let it raise clearly
        if key not in self._filtered:
            if len(self._filtered) >= _FILTER_CACHE:
                self._filtered.clear()
            self._filtered[key] = self._store.rows_where(where)
        return self._filtered[key]

    def _index(self, name: str) -> SecondaryIndex:
        if name not in self.manifest.indexes:
            raise CollectionError(
                f"collection {self.path} has no {name!r} index (it has: "
                f"{', '.join(self.index_names) or 'none'}); re-index with that index enabled"
            )
        if name not in self._indexes:
            config = self.manifest.indexes[name]
            saved = self._index_dirs.get(name)
            if saved is None:
                self._indexes[name] = new_index(name, config)
            else:
                directory = self.path / INDEXES_DIR / saved[0]
                if directory.is_dir():
                    verify_tree(directory, saved[1], rebuild_hint(name, self.path))
                self._indexes[name] = load_index(name, directory, config, self.path)
        return self._indexes[name]

    def get_setting(self, key: str) -> dict[str, Any] | None:
        """A setting stored with `set_setting` (e.g. "fusion"), or None if never set."""
        return self._query(lambda: self._store.setting(key))
