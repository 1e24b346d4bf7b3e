"""How a write becomes part of a collection: journal, stage, commit, clean up.

1. The write is recorded in the journal (`writes` table: id, pid, host) and committed,
   before it creates any file. Every file it creates carries its id in the name.
2. Under the write lock (`BEGIN IMMEDIATE`), it first cleans up after writes of dead
   processes (only the files named with their ids and not listed by any commit), then
   stages new vector and index files (fsynced, with checksums), updates the rows, moves
   the files it supersedes to `trash`, removes its journal entry and commits.
3. After the commit the superseded files are deleted; a crash before that leaves them in
   `trash` for the next write. Nothing is ever deleted for merely "not being listed".

The expensive part of a write (embedding) runs before step 1, so the lock is held only
for the commit. A second writer waits, saying "waiting for another writer (pid N)",
up to `lock_timeout` seconds, then fails with `BusyError`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from embedstack.atomic import fsync_tree, remove
from embedstack.errors import BusyError, InputError
from embedstack.progress import Progress, report
from embedstack.sqlite import classify
from embedstack.store.changes import ChangeSet
from embedstack.store.checksums import tree_checksums
from embedstack.store.flat import FlatVectors, check_vectors
from embedstack.store.indexes import SecondaryIndex, feed_index
from embedstack.store.opening import INDEXES_DIR
from embedstack.store.records import HOST, RecordStore

if TYPE_CHECKING:
    from embedstack.store.manifest import Manifest
    from embedstack.types import EmbeddingSpace

log = logging.getLogger(__name__)
SMALL_SEGMENT_ROWS = 4096
T = TypeVar("T")


@dataclass
class Write:
    """One write in progress: its id, the files it created and the ones it replaces."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    new_files: list[Path] = field(default_factory=list)
    superseded: list[Path] = field(default_factory=list)
    index_dirs: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    changed: bool = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


class CommitMixin:
    """The commit protocol of `Collection` (see the module docstring)."""

    if TYPE_CHECKING:
        path: Path
        manifest: Manifest
        lock_timeout: float | None
        _store: RecordStore
        _vectors: FlatVectors
        _indexes: dict[str, SecondaryIndex]
        _index_dirs: dict[str, tuple[str, str | None]]
        _generation: int
        _lock: threading.RLock

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        @property
        def index_names(self) -> list[str]:
            """Names of the collection's secondary indexes."""

        def _refresh(self) -> None: ...
        def _forget_state(self) -> None: ...
        def _index(self, name: str) -> SecondaryIndex: ...
        def _query(self, work: Callable[[], T]) -> T: ...

    def _locked(self, progress: Progress | None) -> AbstractContextManager[None]:
        def waiting() -> None:
            message = f"waiting for another writer ({self._writer()}) on {self.path}"
            if progress is None:
                log.warning(message)
            else:  # the caller shows it (the CLI prints it once)
                log.info(message)
                report(progress, message, 0, None)

        return self._store.writing(self.lock_timeout, waiting)

    def _writer(self) -> str:
        """Who holds the lock, from the journal: a live process other than this one."""
        for _, pid, host in self._store.writes():
            if pid != os.getpid() and (host != HOST or _alive(pid)):
                return f"pid {pid}" + ("" if host == HOST else f" on {host}")
        return "another process"

    @contextmanager
    def _writing(self, progress: Progress | None = None, refresh: bool = True) -> Iterator[Write]:
        """One write: journal, lock, stage, commit; on any failure remove the new files
        and forget in-memory state, so the previous commit stays the truth. `refresh`
        False: do not load the current files first (repairs of damaged ones)."""
        write = Write()
        with self._lock:
            try:
                with self._locked(progress):
                    self._store.begin_write(write.id)
                try:
                    with self._locked(progress):
                        self._clean_after_crashes(write.id)
                        if refresh:
                            self._refresh()
                        yield write
                        self._store.end_write(write.id)
                        self._store.add_trash([self._relative(p) for p in write.superseded])
                        if write.changed:
                            self._store.bump_generation()
                except BaseException:
                    for path in write.new_files:
                        remove(path)
                    self._forget_state()
                    self._end_journal(write.id)
                    raise
            except BusyError as exc:
                raise BusyError(
                    f"collection {self.path} is busy: {self._writer()} is writing to it "
                    f"({exc}); try again when it finishes"
                ) from None
            except sqlite3.Error as exc:
                raise classify(exc, self._store.path, "restore it from a backup") from exc
            self._take_out_trash(write.superseded)
            self._index_dirs.update(write.index_dirs)
            self._query(self._refresh)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def _end_journal(self, write_id: str) -> None:
        """Best effort after a failed write (its files are already removed)."""
        try:
            with self._store.writing(timeout=1.0):
                self._store.end_write(write_id)
        except Exception as exc:  # a dead journal entry is cleaned by the next write
            log.debug("could not close journal entry %s: %s", write_id, exc)

    def _take_out_trash(self, paths: list[Path]) -> None:
        for path in paths:
            remove(path)
        try:
            with self._store.writing(timeout=0.5):
                self._store.clear_trash([self._relative(p) for p in paths])
        except Exception as exc:  # busy: the next write clears it
            log.debug("left %d trash entries for the next write: %s", len(paths), exc)

    def _clean_after_crashes(self, own_id: str) -> None:
        """Under the write lock: delete what unfinished writes of dead processes created
        (files named with their id that no commit lists) and what commits superseded."""
        trash = self._store.trash()
        for name in trash:
            remove(self.path / name)
        self._store.clear_trash(trash)
        listed = {s[0] for s in self._store.segments()}
        listed |= {d for d, _ in self._store.index_dirs().values()}
        for write_id, pid, host in self._store.writes():
            if write_id == own_id or host != HOST or _alive(pid):
                continue
            for folder in (self._vectors.dir, self.path / INDEXES_DIR):
                for item in folder.glob(f"*{write_id}*"):
                    if item.name not in listed:
                        log.info("removing %s left by an interrupted write (pid %d)", item, pid)
                        remove(item)
            self._store.end_write(write_id)

    # -- staging -------------------------------------------------------------------------
    def _stage(self, changes: ChangeSet, write: Write) -> None:
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

    def _append_vectors(self, vectors: np.ndarray, start: int, write: Write) -> None:
        """Write new rows as a segment. A small append is merged with a small last
        segment (rewriting at most `SMALL_SEGMENT_ROWS` rows), so adding one text at a
        time does not leave thousands of files to open and scan. Row ids do not change."""
        last = self._vectors.segments[-1] if self._vectors.segments else None
        if last is not None and last.array.shape[0] + len(vectors) <= SMALL_SEGMENT_ROWS:
            vectors = np.concatenate([np.asarray(last.array), vectors])
            start = last.start
            self._store.remove_segment(last.name)
            write.superseded.append(self._vectors.dir / last.name)
        self._write_segment(vectors, start, write)

    def _write_segment(self, vectors: np.ndarray, start: int, write: Write) -> str:
        segment = self._vectors.new_segment_path(write.id)
        write.new_files.append(segment)
        checksum = self._vectors.write_segment(segment, vectors)
        self._store.add_segment(segment.name, start, len(vectors), checksum)
        return segment.name

    def _save_index(self, name: str, index: SecondaryIndex, write: Write) -> None:
        directory = f"{name}-{write.id}-{len(write.new_files)}"
        path = self.path / INDEXES_DIR / directory
        path.mkdir(parents=True)
        write.new_files.append(path)
        index.save(path)
        fsync_tree(path)
        checksum = tree_checksums(path)
        old = write.index_dirs.get(name) or self._index_dirs.get(name)
        if old and old[0] != directory:
            write.superseded.append(self.path / INDEXES_DIR / old[0])
        self._store.set_index_dir(name, directory, checksum)
        write.index_dirs[name] = (directory, checksum)
