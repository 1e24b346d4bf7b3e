"""Bringing one version of a collection in line with another: the re-embed migration.

Versions share rows (id, text, metadata) and differ in vectors. `sync` compares the two
by id, content hash and metadata, and upserts what the target lacks in batches: each
batch is one ordinary committed write of the target, so a migration killed at any
moment (SIGKILL included) loses at most the batch it was embedding, and a re-run skips
every committed row by its content hash. `sync_ids` does the same for the ids one write
touched, which is how writes during a migration reach every version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embedstack.errors import CollectionError
from embedstack.progress import Progress, report

if TYPE_CHECKING:
    from embedstack.store.collection import Collection

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What one sync changed in the target: texts embedded, rows whose metadata was
    updated, rows deleted, and the target's row count afterwards."""

    embedded: int = 0
    metadata: int = 0
    deleted: int = 0
    rows: int = 0


def _state(collection: Collection) -> tuple[list[str], dict[str, tuple[int, str, str]]]:
    """(ids in insertion order, id -> (row, hash, metadata JSON)) in one snapshot."""

    def read() -> tuple[list[str], dict[str, tuple[int, str, str]]]:
        ids = collection._store.ids()
        return ids, collection._store.lookup(ids)

    return collection._query(read)


def _rows(
    source: Collection, ids: Sequence[str]
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(ids, texts, metadata) of the ids the source still holds, in the order given."""

    def read() -> dict[str, tuple[str, dict[str, Any]]]:
        found = source._store.lookup(list(ids))
        data = source._store.fetch_rows([found[i][0] for i in ids if i in found])
        return {id_: (text, meta) for id_, text, meta in data.values()}

    rows = source._query(read)
    kept = [i for i in ids if i in rows]
    empty = [i for i in kept if not rows[i][0]]
    if empty:
        raise CollectionError(
            f"{len(empty)} row(s) of {source.path} have no stored text (e.g. {empty[0]!r}: "
            "added as vectors), so another model cannot re-embed them; add their texts "
            "with upsert first, or build the new version from your own vectors"
        )
    return kept, [rows[i][0] for i in kept], [rows[i][1] for i in kept]


def _upsert(
    target: Collection, source: Collection, ids: Sequence[str], batch: int | None
) -> tuple[int, int]:
    kept, texts, metas = _rows(source, ids)
    if not kept:
        return 0, 0
    done = type(target)._upsert_here(target, texts, kept, metas, batch_size=batch)
    return len(done.added) + len(done.updated), len(done.metadata_only)


def sync(
    source: Collection,
    target: Collection,
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> SyncResult:
    """Make `target` hold exactly the rows of `source`, embedding with the target's
    encoder only rows whose text it lacks; resumable at any point (see module doc)."""
    if batch_size <= 0:
        raise CollectionError(f"batch size must be positive, got {batch_size}")
    src_ids, src = _state(source)
    _, tgt = _state(target)
    todo = [i for i in src_ids if tgt.get(i, (0, "", ""))[1:] != src[i][1:]]
    result = SyncResult()
    report(progress, "embedding", 0, len(todo))
    for start in range(0, len(todo), batch_size):
        embedded, metadata = _upsert(target, source, todo[start : start + batch_size], batch_size)
        result.embedded += embedded
        result.metadata += metadata
        report(progress, "embedding", min(start + batch_size, len(todo)), len(todo))
    extra = [i for i in tgt if i not in src]
    if extra:
        result.deleted = type(target)._delete_here(target, extra)
    result.rows = len(target)
    return result


def sync_ids(source: Collection, target: Collection, ids: Sequence[str]) -> None:
    """Carry the rows `ids` from `source` to `target` (one write's worth): upsert the
    ones the source holds, delete the ones it no longer does."""
    present = _state_of(source, ids)
    _upsert(target, source, [i for i in ids if i in present], None)
    gone = [i for i in ids if i not in present]
    if gone:
        type(target)._delete_here(target, gone)


def _state_of(collection: Collection, ids: Sequence[str]) -> set[str]:
    return set(collection._query(lambda: collection._store.lookup(list(ids))))


def same_rows(source: Collection, target: Collection) -> bool:
    """Whether both versions hold the same ids with the same texts and metadata."""
    src_ids, src = _state(source)
    tgt_ids, tgt = _state(target)
    if len(src_ids) != len(tgt_ids):
        return False
    return all(tgt.get(i, (0, "", ""))[1:] == src[i][1:] for i in src_ids)
