"""Writes to a collection: add, upsert, delete, compact, rebuild an index; each atomic.

Each write first works out what changes from a read snapshot and embeds the new texts
without holding any lock, then takes the write lock and plans again against the state
it now sees (another process may have written meanwhile: anything still missing is
embedded then, which is rare) and commits through `store/commit.py`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack.encoders.base import Encoder, check_texts
from embedstack.errors import InputError, StorageError
from embedstack.progress import Progress, report
from embedstack.store.backend import check_delete, check_setting
from embedstack.store.changes import (
    ChangeSet,
    UpsertReport,
    check_ids,
    check_metadata,
    content_hash,
)
from embedstack.store.commit import SMALL_SEGMENT_ROWS, CommitMixin
from embedstack.store.flat import check_vectors
from embedstack.store.indexes import feed_index, new_index
from embedstack.types import Kind

if TYPE_CHECKING:
    from embedstack.types import EmbeddingSpace

__all__ = ["SMALL_SEGMENT_ROWS", "CollectionWrites", "Progress"]
log = logging.getLogger(__name__)
EMBED_CHUNK = 128  # texts embedded between progress reports
# Characters of a text handed to an encoder that embeds at most `max_tokens` tokens: no
# token spans this many characters on average in real text, and a 50 MB one-line file
# is not tokenised whole only to keep its first few hundred tokens.
CHARS_PER_TOKEN = 256


def _stored_meta(id_: str, raw: str) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise StorageError(
            f"the stored metadata of id {id_!r} is not valid JSON: the collection's "
            "database is damaged; restore store.sqlite from a backup"
        ) from None
    return meta


def plan_upsert(
    items: list[str],
    ids: list[str],
    metas: list[dict[str, Any]] | None,
    existing: dict[str, tuple[int, str, str]],
) -> tuple[UpsertReport, ChangeSet]:
    """What an upsert changes given the stored (row, hash, metadata) of its ids."""
    report_, changes = UpsertReport(), ChangeSet()
    for i, id_ in enumerate(ids):
        meta, digest, old = (metas[i] if metas else None), content_hash(items[i]), existing.get(id_)
        if old is not None and old[1] == digest:
            if meta is not None and meta != _stored_meta(id_, old[2]):
                report_.metadata_only.append(id_)
                changes.metadata_updates[id_] = meta
            else:
                report_.unchanged.append(id_)
            continue
        if old is None:
            report_.added.append(id_)
        else:
            report_.updated.append(id_)
            changes.deleted_rows.append(old[0])
            meta = _stored_meta(id_, old[2]) if meta is None else meta
        changes.ids.append(id_)
        changes.texts.append(items[i])
        changes.metadata.append(meta or {})
        changes.hashes.append(digest)
    return report_, changes


class CollectionWrites(CommitMixin):
    """The write half of `Collection` (kept apart so each module stays one concept)."""

    if TYPE_CHECKING:

        @property
        def space(self) -> EmbeddingSpace:
            """The collection's embedding space."""

        @property
        def encoder(self) -> Encoder:
            """The encoder that embeds new texts."""

        def _alive_rows(self) -> np.ndarray: ...

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
            return self._add_own_vectors(ids, vectors, metadata, texts=texts, space=space)  # type: ignore[attr-defined]
        items = check_texts(texts)
        id_list = check_ids(
            ids if ids is not None else [uuid.uuid4().hex for _ in items], len(items)
        )
        metas = check_metadata(metadata, len(items))
        self._refuse_existing(self._query(lambda: self._store.lookup(id_list)))
        hashes = [content_hash(t) for t in items]
        vectors = self._embed(items, hashes, {}, batch_size, progress)
        with self._writing(progress) as write:
            self._refuse_existing(self._store.lookup(id_list))
            self._stage(ChangeSet(id_list, items, metas, hashes, vectors), write)
        return id_list

    @staticmethod
    def _refuse_existing(clash: dict[str, Any]) -> None:
        if clash:
            raise InputError(
                f"{len(clash)} id(s) already in the collection (e.g. {next(iter(clash))!r}): "
                "use upsert to replace them"
            )

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
            return self._upsert_own_vectors(ids, vectors, metadata, texts=texts, space=space)  # type: ignore[attr-defined]
        if ids is None:
            raise InputError("upsert needs ids: one per text")
        items = check_texts(texts)
        id_list = check_ids(ids, len(items))
        metas = None if metadata is None else check_metadata(metadata, len(items))
        existing = self._query(lambda: self._store.lookup(id_list))
        _, planned = plan_upsert(items, id_list, metas, existing)
        vectors = self._embed(planned.texts, planned.hashes, {}, batch_size, progress)
        done = dict(zip(planned.hashes, vectors, strict=True))
        with self._writing(progress) as write:
            result, changes = plan_upsert(items, id_list, metas, self._store.lookup(id_list))
            changes.vectors = self._embed(changes.texts, changes.hashes, done, batch_size, None)
            self._stage(changes, write)
        return result

    def upsert_vectors(
        self,
        vectors: np.ndarray,
        ids: Sequence[str],
        texts: Sequence[str],
        metadata: Sequence[dict[str, Any]] | None = None,
        hashes: Sequence[str] | None = None,
    ) -> UpsertReport:
        """Insert or replace rows whose vectors were made elsewhere in this collection's
        space (e.g. images by a dual encoder's image tower); `hashes` (e.g. of the image
        files) decide what changed. The same path as `upsert(vectors=...)`."""
        return self._upsert_own_vectors(  # type: ignore[attr-defined]
            ids, vectors, metadata, texts=texts, space=self.space, hashes=hashes
        )

    def delete(
        self, ids: Sequence[str] | None = None, *, where: dict[str, Any] | None = None
    ) -> int:
        """Remove rows by id (missing ids ignored) or every row a `where` filter matches,
        decided inside the write; returns how many. Tombstoned until compact()."""
        id_list = check_delete(ids, where)
        with self._writing() as write:
            if id_list is None:
                rows = [int(r) for r in self._store.rows_where(where or {})]
            else:
                rows = [row for row, _, _ in self._store.lookup(id_list).values()]
            self._stage(ChangeSet(deleted_rows=rows), write)
        return len(rows)

    def compact(self) -> int:
        """Rewrite vectors without tombstones, rebuild the indexes; returns dead rows reclaimed."""
        with self._writing() as write:
            alive, total = self._alive_rows(), self._vectors.total
            if len(alive) == total and len(self._vectors.segments) <= 1:
                return 0
            write.superseded += [self._vectors.dir / s.name for s in self._vectors.segments]
            self._store.replace_segments(None, 0, None)
            if len(alive):
                self._write_segment(self._vectors.take(alive), 0, write)
            self._store.renumber(alive)
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
        have (e.g. `rebuild_index("splade", {"model": "path/to/splade"})`). The index is
        built from a read snapshot without the lock, and again under it only if another
        write changed the rows meanwhile."""
        settings = dict(self.manifest.indexes.get(name, {}) if config is None else config)

        def build() -> tuple[int, Any]:
            index = new_index(name, settings)
            rows = self._store.alive_rows()
            if len(rows):
                data = self._store.fetch_rows(rows.tolist())
                texts = [data[int(r)][1] for r in rows]
                feed_index(index, rows, lambda: texts, lambda: self._vectors.take(rows))
            return self._store.generation(), index

        seen, index = self._query(build)
        with self._writing() as write:
            if self._store.generation() != seen:
                index = build()[1]
            self._save_index(name, index, write)
            write.changed = True
        if self.manifest.indexes.get(name) != index.config():
            self.manifest.indexes[name] = index.config()
            self.manifest.write(self.path)
        self._indexes[name] = index

    def rebuild_vectors(self, progress: Progress | None = None) -> int:
        """Re-embed the stored texts of every vector file that is missing, unreadable or
        fails its checksum, and commit the repaired files; returns how many rows were
        re-embedded. Healthy files are left alone."""

        def plan() -> tuple[int, list[tuple[str, int, int]], np.ndarray, list[str]]:
            damaged = [
                (name, start, count)
                for name, start, count, checksum in self._store.segments()
                if not self._vectors.healthy(name, count, checksum)
            ]
            alive = self._store.alive_rows()
            inside = np.zeros(len(alive), dtype=bool)
            for _, start, count in damaged:
                inside |= (alive >= start) & (alive < start + count)
            rows = alive[inside]
            data = self._store.fetch_rows(rows.tolist())
            return self._store.generation(), damaged, rows, [data[int(r)][1] for r in rows]

        seen, damaged, rows, texts = self._query(plan)
        hashes = [content_hash(t) for t in texts]
        vectors = self._embed(texts, hashes, {}, None, progress)
        done = dict(zip(hashes, vectors, strict=True))
        with self._writing(progress, refresh=False) as write:
            if self._store.generation() != seen:
                _, damaged, rows, texts = plan()
                hashes = [content_hash(t) for t in texts]
                vectors = self._embed(texts, hashes, done, None, None)
            for name, start, count in damaged:
                block = np.zeros((count, self.space.dim), dtype=np.float32)
                mine = (rows >= start) & (rows < start + count)
                block[rows[mine] - start] = vectors[mine]
                self._store.remove_segment(name)
                self._write_segment(block, start, write)
                write.superseded.append(self._vectors.dir / name)
            write.changed = bool(damaged)
        return len(rows)

    def set_setting(self, key: str, value: dict[str, Any]) -> None:
        """Store a JSON-able dict under `key`, committed like any other write."""
        check_setting(key, value)
        with self._writing() as write:
            self._store.set_setting(key, value)
            write.changed = True

    def _embed(
        self,
        texts: list[str],
        hashes: list[str],
        done: dict[str, np.ndarray],
        batch_size: int | None,
        progress: Progress | None,
    ) -> np.ndarray:
        """Vectors of `texts`, reusing `done` (content hash -> vector) and embedding each
        distinct new text once, in chunks that report progress."""
        out = np.zeros((len(texts), self.space.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, digest in enumerate(hashes):
            if digest in done:
                out[i] = done[digest]
            else:
                todo.setdefault(digest, []).append(i)
        first = [positions[0] for positions in todo.values()]
        limit = (self.space.max_tokens or 0) * CHARS_PER_TOKEN
        chunk = max(EMBED_CHUNK, batch_size or 0)
        if first:
            report(progress, "embedding", 0, len(first))  # the total before the first batch
        for start in range(0, len(first), chunk):
            part = first[start : start + chunk]
            batch = [texts[i][:limit] if limit else texts[i] for i in part]
            cut = sum(len(texts[i]) > len(b) for i, b in zip(part, batch, strict=True))
            if cut:
                log.warning(
                    "%d text(s) longer than %d characters: only their start is tokenised "
                    "(the model embeds at most %d tokens)",
                    cut,
                    limit,
                    self.space.max_tokens,
                )
            vectors = check_vectors(
                self.encoder.encode(batch, kind=Kind.DOCUMENT, batch_size=batch_size),
                self.space.dim,
            )
            for i, vector in zip(part, vectors, strict=True):
                for j in todo[hashes[i]]:
                    out[j] = vector
            report(progress, "embedding", start + len(part), len(first))
        return out
