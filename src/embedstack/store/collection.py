"""An embedded collection: a folder of texts, vectors and indexes, searchable offline.

Layout: `manifest.json` (embedding space, model spec, index configs), `store.sqlite`
(rows, content hashes, metadata, the list of live files), `vectors/*.npy` (append-only
segments, memory-mapped) and `indexes/<name>-<generation>/` (one folder per saved index
state). Every write puts new files under new names, fsyncs them, then commits one SQLite
transaction that lists them; files no commit lists are orphans and are removed on open.
One process writes at a time (the SQLite write lock); readers refresh on every call.
Within a process a collection can be shared between threads (calls are serialised).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.similarity import Metric, topk
from embedstack.store.changes import Record, UpsertReport
from embedstack.store.files import remove
from embedstack.store.flat import VECTORS_DIR, FlatVectors
from embedstack.store.indexes import SecondaryIndex, index_configs, load_index, new_index
from embedstack.store.manifest import MANIFEST, Manifest
from embedstack.store.own_vectors import OwnVectors, check_own_vectors, require_encoder
from embedstack.store.records import DATABASE, RecordStore
from embedstack.store.vecindex import create_vector_config
from embedstack.store.writes import INDEXES_DIR, CollectionWrites
from embedstack.types import EmbeddingSpace, Hit

if TYPE_CHECKING:
    from embedstack.search.retrievers import Retriever

__all__ = ["Collection", "Record", "UpsertReport"]
log = logging.getLogger(__name__)
_FILTER_CACHE = 64  # filters whose matching rows are kept between writes
_OWN_FILES = {MANIFEST, DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", VECTORS_DIR, INDEXES_DIR}


def _resolve_encoder(encoder: Encoder | str | None) -> tuple[Encoder, str]:
    from embedstack.config import default_model_spec
    from embedstack.registry import load_encoder

    if isinstance(encoder, Encoder):
        return encoder, getattr(encoder, "spec", "") or encoder.space.model
    spec = encoder or default_model_spec()
    return load_encoder(spec), spec


# Space fields that encoder options can set, and the option that sets each.
_OPTION_FIELDS = {
    "pooling": "pooling",
    "normalize": "normalize",
    "query_prefix": "query_prefix",
    "document_prefix": "document_prefix",
    "max_tokens": "max_length",
    "precision": "precision",
}


def _rebuild_encoder(folder: Path, manifest: Manifest) -> Encoder:
    """The encoder from the manifest's model spec. A collection built with non-default
    options (pooling, prefixes, ...) differs from the spec's defaults only in those
    fields: rebuild once with them set, and refuse with the diff if that does not match."""
    from embedstack.registry import load_encoder

    encoder, _ = _resolve_encoder(manifest.model_spec)
    wanted, got = manifest.space.to_dict(), encoder.space.to_dict()
    differing = {k for k in wanted if wanted[k] != got[k]}
    if differing and differing <= set(_OPTION_FIELDS):
        options = {_OPTION_FIELDS[k]: wanted[k] for k in differing}
        try:
            retry = load_encoder(manifest.model_spec, **options)
        except (InputError, TypeError):
            retry = None
        if retry is not None and retry.space == manifest.space:
            return retry
    _require_space(folder, manifest.space, encoder)
    return encoder


def _require_space(folder: Path, space: EmbeddingSpace, encoder: Encoder) -> None:
    try:
        space.require_same(encoder.space)
    except SpaceMismatchError as exc:
        raise SpaceMismatchError(f"{folder}: {exc}") from None


def _check_leftovers(folder: Path) -> None:
    """A folder without a manifest may only be reused when it is empty or holds what a
    crashed `create` leaves (an empty database); a collection whose manifest went
    missing is damaged, and its data is never wiped silently."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise CollectionError(f"{folder} is a file: give a folder for the collection")
    if any(p.name not in _OWN_FILES for p in folder.iterdir()):
        raise CollectionError(f"{folder} exists and is not empty: choose a new folder")
    rows = 0
    if (folder / DATABASE).exists():
        store = RecordStore(folder / DATABASE)
        try:
            rows = store.count() + len(store.segments())
        finally:
            store.close()
    if rows or any((folder / VECTORS_DIR).glob("*")) or any((folder / INDEXES_DIR).glob("*")):
        raise CollectionError(
            f"{folder} holds collection data but {MANIFEST} is missing, so it is damaged: "
            "move the folder away and re-index into a new one"
        )


class Collection(CollectionWrites, OwnVectors):
    """Create with `Collection.create`, reopen with `Collection.open`."""

    def __init__(self, path: Path, manifest: Manifest, encoder: Encoder | None) -> None:
        self.path = path
        self.manifest = manifest
        self._encoder = encoder
        self._store = RecordStore(path / DATABASE)
        self._vectors = FlatVectors(path, manifest.space.dim)
        self._indexes: dict[str, SecondaryIndex] = {}
        self._index_dirs: dict[str, str] = {}
        self._generation = -1
        self._alive: np.ndarray | None = None
        self._filtered: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self._clean_orphans()
        self._refresh()

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
        storage: str = "float32",
        rescore: str | None = None,
        ann_settings: dict[str, Any] | None = None,
    ) -> Collection:
        """Make a new collection folder. `encoder` is an Encoder or a model spec (None:
        `EMBEDSTACK_MODEL` or the default model). `indexes` None means the default
        secondary indexes (BM25 when installed); `()` means none; names use each index's
        default settings, and a mapping gives settings per index, e.g.
        `{"bm25": None, "colbert": {"model": "path/to/colbert"}}`.

        Without an encoder but with `dim`, the collection holds your own vectors (add them
        with `add(ids=..., vectors=...)`). `ann` ("exact" or "hnsw"), `storage` ("float32",
        "float16", "int8", "binary"), `rescore` ("none", "float32", "int8") and
        `ann_settings` (e.g. `{"dims": 256, "connectivity": 32}`) choose the vector index
        (store/vecindex.py)."""
        folder = Path(path)
        if (folder / MANIFEST).exists():
            if exist_ok:
                return cls.open(folder, encoder)
            raise CollectionError(f"{folder} is already a collection: open it instead")
        _check_leftovers(folder)
        if metric not in {m.value for m in Metric}:
            raise InputError(f"metric must be one of cosine, dot, euclidean; got {metric!r}")
        own = encoder is None and dim is not None
        enc, spec = (None, "") if own else _resolve_encoder(encoder)
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
        RecordStore(folder / DATABASE).close()
        manifest.write(folder)  # last: the manifest marks a complete collection
        return cls(folder, manifest, enc)

    @classmethod
    def open(cls, path: str | Path, encoder: Encoder | str | None = None) -> Collection:
        """Open an existing collection. Without an encoder, it is rebuilt from the
        manifest's model spec when first needed; a given one must match the space."""
        folder = Path(path)
        manifest = Manifest.read(folder)
        enc = None
        if encoder is not None:
            enc = _resolve_encoder(encoder)[0]
            _require_space(folder, manifest.space, enc)
        return cls(folder, manifest, enc)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def space(self) -> EmbeddingSpace:
        return self.manifest.space

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            require_encoder(self.manifest.model_spec, self.path)
            self._encoder = _rebuild_encoder(self.path, self.manifest)
        return self._encoder

    @property
    def index_names(self) -> list[str]:
        return list(self.manifest.indexes)

    def __len__(self) -> int:
        with self._lock:
            return self._store.count()

    def __repr__(self) -> str:
        return f"Collection({str(self.path)!r}, model={self.space.model!r}, rows={len(self)})"

    def ids(self) -> list[str]:
        with self._lock:
            return self._store.ids()

    def source_paths(self) -> dict[str, str]:
        """id -> the file it was indexed from (the `path` metadata the loaders set)."""
        with self._lock:
            return self._store.source_paths()

    # -- state ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        generation = self._store.generation()
        if generation == self._generation:
            return
        self._vectors.load(self._store.segments())
        dirs = self._store.index_dirs()
        for name in list(self._indexes):
            if dirs.get(name) != self._index_dirs.get(name):
                del self._indexes[name]
        self._index_dirs = dirs
        self._alive = None
        self._filtered.clear()
        self._generation = generation

    def _clean_orphans(self) -> None:
        """Remove files that no commit lists (left by a crash mid-write)."""
        try:
            with self._store.transaction(busy_ms=200):
                live = {name for name, _, _ in self._store.segments()}
                live_dirs = set(self._store.index_dirs().values())
                candidates = [
                    *(self.path / VECTORS_DIR).glob("*"),
                    *(self.path / INDEXES_DIR).glob("*"),
                ]
                for item in candidates:
                    if item.name not in live and item.name not in live_dirs:
                        log.info("removing orphan %s left by an interrupted write", item)
                        remove(item)
        except (sqlite3.OperationalError, OSError) as exc:  # busy writer, read-only media
            log.debug("skipped orphan cleanup of %s: %s", self.path, exc)

    def _alive_rows(self) -> np.ndarray:
        if self._alive is None:
            self._alive = self._store.alive_rows()
        return self._alive

    def _rows_where(self, where: dict[str, Any]) -> np.ndarray:
        """Rows passing a filter, cached until the next write: SQLite evaluates JSON
        filters row by row (~100 ms per 100k rows), and the same filter is often reused."""
        try:
            key = json.dumps(where, sort_keys=True)
        except (TypeError, ValueError):
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
            directory = self._index_dirs.get(name)
            self._indexes[name] = (
                load_index(name, self.path / INDEXES_DIR / directory, config)
                if directory
                else new_index(name, config)
            )
        return self._indexes[name]

    # -- reads ---------------------------------------------------------------------------
    def get(self, ids: Sequence[str]) -> list[Record]:
        """Records for the ids that exist, in the order asked (missing ids are left out)."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string: wrap it as [id]")
        with self._lock:
            self._refresh()
            found = self._store.lookup(list(ids))
            order = [found[i][0] for i in ids if i in found]
            data = self._store.fetch_rows(order)
            vectors = self._vectors.take(np.asarray(order, dtype=np.int64))
            return [Record(*data[row], vector=vectors[n]) for n, row in enumerate(order)]

    def search(
        self,
        query: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        retriever: str | Retriever = "dense",
    ) -> list[Hit]:
        """Top-k hits for `query`, best first. `retriever` is "dense", the name of one of
        the collection's indexes (e.g. "bm25"), or any object with `search(query, k, where)`."""
        from embedstack.search.retrievers import resolve_retriever

        return resolve_retriever(self, retriever).search(query, k, where)

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
        with self._lock:
            self._refresh()
            rows = self._rows_where(where) if where else self._alive_rows()
            found = None if exact else self._search_vector_index(query, k, rows, bool(where))
            if found is not None:
                return self._hits(found[0], found[1], "dense")
            full = not where and len(rows) == self._vectors.total
            values = self._vectors.scores(query, self._metric, None if full else rows)
            ids, top = self._top_nonzero(values, None if full else rows, k)
            return self._hits(ids, top, "dense")

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
        with self._lock:
            self._refresh()
            index = self._index(name)
            allowed = self._rows_where(where) if where else None
            rows, values = index.search(query, k, allowed)
            return self._hits(np.asarray(rows), np.asarray(values), name)

    @property
    def _metric(self) -> str:
        # Stored vectors of a normalising space are unit length: cosine is a dot product.
        if self.manifest.metric == "cosine" and self.space.normalize:
            return "dot"
        return self.manifest.metric

    def _hits(self, rows: np.ndarray, values: np.ndarray, stage: str) -> list[Hit]:
        data = self._store.fetch_rows([int(r) for r in rows])
        hits: list[Hit] = []
        for row, value in zip(rows, values, strict=True):
            id_, text, metadata = data[int(row)]
            stages = {stage: {"score": float(value), "rank": len(hits) + 1}}
            hits.append(Hit(id_, float(value), text, metadata, stages))
        return hits
