"""Writes to a collection: add, upsert, delete, compact, each one atomic.

A write takes the SQLite write lock, writes new vector and index files under fresh names
(fsynced), and commits one transaction that lists them. On any failure before the
commit the new files are removed and in-memory state is dropped, so the previous commit
stays the truth; files left by a hard crash are orphans that `Collection.open` removes.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.encoders.base import Encoder, check_texts
from embedstack.errors import InputError
from embedstack.store.changes import (
    ChangeSet,
    UpsertReport,
    check_ids,
    check_metadata,
    content_hash,
)
from embedstack.store.files import fsync_tree, remove
from embedstack.store.flat import FlatVectors, check_vectors
from embedstack.store.indexes import SecondaryIndex, feed_index, new_index
from embedstack.types import EmbeddingSpace, Kind

if TYPE_CHECKING:
    from embedstack.store.manifest import Manifest
    from embedstack.store.records import RecordStore

INDEXES_DIR = "indexes"
SMALL_SEGMENT_ROWS = 4096
# progress(done, total): called after each chunk of texts is embedded.
Progress = Callable[[int, int], None]


@dataclass
class _Write:
    new_files: list[Path] = field(default_factory=list)
    superseded: list[Path] = field(default_factory=list)
    index_dirs: dict[str, str] = field(default_factory=dict)
    changed: bool = False


class CollectionWrites:
    """The write half of `Collection` (kept apart so each module stays one concept)."""

    if TYPE_CHECKING:
        path: Path
        manifest: Manifest
        _store: RecordStore
        _vectors: FlatVectors
        _indexes: dict[str, SecondaryIndex]
        _index_dirs: dict[str, str]
        _generation: int
        _lock: threading.RLock

        @property
        def space(self) -> EmbeddingSpace: ...
        @property
        def encoder(self) -> Encoder: ...
        @property
        def index_names(self) -> list[str]: ...
        def _refresh(self) -> None: ...
        def _alive_rows(self) -> np.ndarray: ...
        def _index(self, name: str) -> SecondaryIndex: ...

    def add(
        self,
        texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
        vectors: np.ndarray | None = None,
        space: EmbeddingSpace | None = None,
    ) -> list[str]:
        """Embed and store new texts; ids default to random hex strings. An id already in
        the collection is refused (use `upsert` to replace). With `vectors`, store those
        instead of embedding (texts optional; see store/own_vectors.py)."""
        if vectors is not None or texts is None:
            return self.add_vectors(ids, vectors, metadata, texts=texts, space=space)  # type: ignore[attr-defined]
        items = check_texts(texts)
        id_list = check_ids(
            ids if ids is not None else [uuid.uuid4().hex for _ in items], len(items)
        )
        metas = check_metadata(metadata, len(items))
        with self._writing() as write:
            clash = self._store.lookup(id_list)
            if clash:
                raise InputError(
                    f"{len(clash)} id(s) already in the collection (e.g. {next(iter(clash))!r}): "
                    "use upsert to replace them"
                )
            vectors = self._embed(items, batch_size, progress)
            changes = ChangeSet(id_list, items, metas, [content_hash(t) for t in items], vectors)
            self._stage(changes, write)
        return id_list

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
        vectors: np.ndarray | None = None,
        space: EmbeddingSpace | None = None,
    ) -> UpsertReport:
        """Insert or replace by id. Only texts whose content hash changed are embedded;
        metadata None keeps the stored metadata of existing ids. With `vectors`, rows
        whose vector, text or metadata changed are replaced (store/own_vectors.py)."""
        if vectors is not None or texts is None:
            return self.upsert_vectors(ids, vectors, metadata, texts=texts, space=space)  # type: ignore[attr-defined]
        if ids is None:
            raise InputError("upsert needs ids: one per text")
        items = check_texts(texts)
        id_list = check_ids(ids, len(items))
        metas = None if metadata is None else check_metadata(metadata, len(items))
        report = UpsertReport()
        with self._writing() as write:
            existing = self._store.lookup(id_list)
            changes = ChangeSet()
            for i, id_ in enumerate(id_list):
                meta, digest, old = (
                    (metas[i] if metas else None),
                    content_hash(items[i]),
                    existing.get(id_),
                )
                if old is not None and old[1] == digest:
                    if meta is not None and meta != json.loads(old[2]):
                        report.metadata_only.append(id_)
                        changes.metadata_updates[id_] = meta
                    else:
                        report.unchanged.append(id_)
                    continue
                if old is None:
                    report.added.append(id_)
                else:
                    report.updated.append(id_)
                    changes.deleted_rows.append(old[0])
                    meta = json.loads(old[2]) if meta is None else meta
                changes.ids.append(id_)
                changes.texts.append(items[i])
                changes.metadata.append(meta or {})
                changes.hashes.append(digest)
            changes.vectors = self._embed(changes.texts, batch_size, progress)
            self._stage(changes, write)
        return report

    def delete(self, ids: Sequence[str]) -> int:
        """Remove rows by id (missing ids are ignored); returns how many were removed.
        Their vectors stay on disk as tombstones until `compact()`."""
        if isinstance(ids, str):
            raise TypeError("ids must be a list of strings, not a single string: wrap it as [id]")
        with self._writing() as write:
            rows = [row for row, _, _ in self._store.lookup(list(ids)).values()]
            self._stage(ChangeSet(deleted_rows=rows), write)
        return len(rows)

    def compact(self) -> int:
        """Rewrite the vectors without tombstones and rebuild the indexes; returns the
        number of dead rows reclaimed."""
        with self._writing() as write:
            alive, total = self._alive_rows(), self._vectors.total
            if len(alive) == total and len(self._vectors.segments) <= 1:
                return 0
            write.superseded += [self._vectors.dir / s.name for s in self._vectors.segments]
            segment = None
            if len(alive):
                segment = self._vectors.new_segment_path()
                write.new_files += [segment, segment.with_name(segment.name + ".tmp")]
                self._vectors.write_segment(segment, self._vectors.take(alive))
            self._store.renumber(alive)
            self._store.replace_segments(segment.name if segment else None, len(alive))
            texts = self._store.texts_in_row_order()
            for index_name in self.index_names:
                index = new_index(index_name, self.manifest.indexes[index_name])
                if texts:
                    new_rows = np.arange(len(texts), dtype=np.int64)
                    feed_index(index, new_rows, lambda: texts, lambda: self._vectors.take(alive))
                self._indexes[index_name] = index
                self._save_index(index_name, index, write)
            write.changed = True
        return total - len(alive)

    def rebuild_index(self, name: str, config: dict[str, Any] | None = None) -> None:
        """Build one secondary index afresh from the stored texts: repairs a missing or
        damaged index, applies new settings, or adds an index the collection did not
        have (e.g. `rebuild_index("splade", {"model": "path/to/splade"})`)."""
        settings = dict(self.manifest.indexes.get(name, {}) if config is None else config)
        index = new_index(name, settings)
        with self._writing() as write:
            rows = self._alive_rows()
            if len(rows):
                data = self._store.fetch_rows(rows.tolist())
                texts = [data[int(r)][1] for r in rows]
                feed_index(index, rows, lambda: texts, lambda: self._vectors.take(rows))
            self._save_index(name, index, write)
            write.changed = True
        if self.manifest.indexes.get(name) != index.config():
            self.manifest.indexes[name] = index.config()
            self.manifest.write(self.path)
        self._indexes[name] = index

    def _embed(
        self, texts: list[str], batch_size: int | None, progress: Progress | None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.space.dim), dtype=np.float32)
        chunk = max(128, batch_size or 0)
        parts = []
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            parts.append(self.encoder.encode(part, kind=Kind.DOCUMENT, batch_size=batch_size))
            if progress is not None:
                progress(start + len(part), len(texts))
        return np.concatenate(parts)

    @contextmanager
    def _writing(self) -> Iterator[_Write]:
        """One write: lock, stage new files, commit; on any failure remove the new files
        and forget in-memory state, so the previous commit stays the truth."""
        write = _Write()
        with self._lock:
            try:
                with self._store.transaction():
                    self._refresh()
                    yield write
                    if write.changed:
                        self._store.bump_generation()
            except BaseException:
                for path in write.new_files:
                    remove(path)
                self._indexes.clear()
                self._generation = -1
                raise
            for path in write.superseded:
                remove(path)
            self._index_dirs.update(write.index_dirs)
            self._refresh()

    def _stage(self, changes: ChangeSet, write: _Write) -> None:
        if not changes:
            return
        start = self._vectors.total
        rows = np.arange(start, start + len(changes.ids), dtype=np.int64)
        if changes.deleted_rows:
            self._store.delete_rows(changes.deleted_rows)
        if changes.ids:
            vectors = check_vectors(np.asarray(changes.vectors), self.space.dim)
            if vectors.shape[0] != len(changes.ids):
                raise InputError(f"{vectors.shape[0]} vectors for {len(changes.ids)} texts")
            self._append_vectors(vectors, start, write)
            self._store.insert(rows, changes.ids, changes.texts, changes.metadata, changes.hashes)
        if changes.metadata_updates:
            self._store.update_metadata(changes.metadata_updates)
        if changes.ids or changes.deleted_rows:
            for name in self.index_names:
                index = self._index(name)
                if changes.deleted_rows:
                    index.delete(np.asarray(changes.deleted_rows, dtype=np.int64))
                if changes.ids:
                    feed_index(index, rows, lambda: changes.texts, lambda: vectors)
                self._save_index(name, index, write)
        write.changed = True

    def _append_vectors(self, vectors: np.ndarray, start: int, write: _Write) -> None:
        """Write new rows as a segment. A small append is merged with a small last
        segment (rewriting at most `SMALL_SEGMENT_ROWS` rows), so adding one text at a
        time does not leave thousands of files to open and scan. Row ids do not change."""
        last = self._vectors.segments[-1] if self._vectors.segments else None
        if last is not None and last.array.shape[0] + len(vectors) <= SMALL_SEGMENT_ROWS:
            vectors = np.concatenate([np.asarray(last.array), vectors])
            start = last.start
            self._store.remove_segment(last.name)
            write.superseded.append(self._vectors.dir / last.name)
        segment = self._vectors.new_segment_path()
        write.new_files += [segment, segment.with_name(segment.name + ".tmp")]
        self._vectors.write_segment(segment, vectors)
        self._store.add_segment(segment.name, start, len(vectors))

    def _save_index(self, name: str, index: SecondaryIndex, write: _Write) -> None:
        directory = f"{name}-{uuid.uuid4().hex[:12]}"
        path = self.path / INDEXES_DIR / directory
        path.mkdir(parents=True)
        write.new_files.append(path)
        index.save(path)
        fsync_tree(path)
        old = self._index_dirs.get(name)
        if old:
            write.superseded.append(self.path / INDEXES_DIR / old)
        self._store.set_index_dir(name, directory)
        write.index_dirs[name] = directory
