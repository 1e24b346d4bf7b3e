"""Embed a corpus of any size into a collection: streamed, bounded memory, resumable.

`embed_corpus(records, collection)` reads the input lazily in chunks of `chunk_size`
records, embeds each chunk and commits it to the collection before reading the next,
so memory holds one chunk whatever the corpus size. Every chunk is an `upsert` keyed by
record id: after an interruption (Ctrl-C, a killed process, a crash) run the same call
again and every record already stored with the same text is skipped without being
embedded; only the unfinished chunks are. Records without an id get their position in
the input as id, so resuming needs the same input order.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from embedstack.errors import InputError
from embedstack.progress import Progress, report
from embedstack.store.changes import UpsertReport
from embedstack.store.collection import Collection

log = logging.getLogger(__name__)

Record = str | tuple[str, str] | tuple[str, str, dict[str, Any]] | dict[str, Any]


@dataclass
class IngestReport:
    """Counts so far: `embedded` records were encoded now, `skipped` were already stored
    with the same text (finished before an interruption, or unchanged)."""

    read: int = 0
    embedded: int = 0
    skipped: int = 0
    chunks: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Records embedded per second (0 before any time has passed)."""
        return self.embedded / self.seconds if self.seconds else 0.0


def _normalise(record: Record, position: int) -> tuple[str, str, dict[str, Any]]:
    if isinstance(record, str):
        return str(position), record, {}
    if isinstance(record, tuple) and len(record) in (2, 3):
        meta = record[2] if len(record) == 3 else {}
        return str(record[0]), record[1], dict(meta)
    if isinstance(record, dict):
        if not isinstance(record.get("text"), str):
            raise InputError(f"record {position} has no 'text' string: {str(record)[:80]}")
        id_ = record.get("id", record.get("_id", position))
        fields = {k: v for k, v in record.items() if k not in ("id", "_id", "text")}
        return str(id_), record["text"], dict(record.get("metadata") or fields)
    raise InputError(
        f"record {position} is a {type(record).__name__}; expected a str, (id, text[, "
        "metadata]) or a dict with 'text'"
    )


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[tuple[str, str, dict]]]:
    numbered = (_normalise(r, i) for i, r in enumerate(records))
    while chunk := list(itertools.islice(numbered, size)):
        yield chunk


def embed_corpus(
    records: Iterable[Record],
    collection: Collection,
    *,
    chunk_size: int = 2048,
    batch_size: int | None = None,
    workers: int = 1,
    encoder_options: dict[str, Any] | None = None,
    total: int | None = None,
    progress: Progress | bool | None = None,
    on_chunk: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Embed `records` (str, `(id, text[, metadata])` or `{"id", "text", ...}` dicts;
    other dict keys become metadata) into `collection`, one committed chunk at a time.

    `workers` > 1 embeds each chunk in that many processes, each loading the collection's
    model spec with `encoder_options` (e.g. `{"precision": "int8"}`). `total` (or
    `len(records)`) gives `progress` (called as `(stage, done, total)`) its total.
    """
    if isinstance(progress, bool):  # older callers passed True/False for a bar
        progress = None
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    if total is None and hasattr(records, "__len__"):
        total = len(records)  # type: ignore[arg-type]
    target, parallel = collection, None
    if workers > 1:
        from embedstack.registry import load_parallel

        parallel = load_parallel(collection.manifest.model_spec, workers, **(encoder_options or {}))
        target = Collection.open(collection.path, encoder=parallel)
    counts = IngestReport()
    start = time.perf_counter()
    try:
        for chunk in _chunks(records, chunk_size):
            ids, texts, metadata = (list(column) for column in zip(*chunk, strict=True))
            result = target.upsert(texts, ids, metadata, batch_size=batch_size)
            counts.read += len(chunk)
            counts.skipped += len(result.unchanged) + len(result.metadata_only)
            counts.embedded += len(result.added) + len(result.updated)
            counts.chunks += 1
            counts.seconds = time.perf_counter() - start
            report(progress, "embedding", counts.read, total)
            if on_chunk is not None:
                on_chunk(counts)
    finally:
        if parallel is not None:
            parallel.close()
    log.info(
        "embedded %d, skipped %d already stored, in %.1fs",
        counts.embedded,
        counts.skipped,
        counts.seconds,
    )
    return counts


def upsert_in_batches(
    collection: Collection,
    texts: list[str],
    ids: list[str],
    metadata: list[dict[str, Any]],
    *,
    max_batch: int = 1024,
    seconds: float = 30.0,
    progress: Progress | None = None,
) -> UpsertReport:
    """`collection.upsert` committed batch by batch, so a killed run keeps what it
    finished and a rerun embeds only the rest. A batch closes after `max_batch`
    documents or about `seconds` of work, whichever comes first: the batch size adapts
    to the measured time per document (unchanged documents cost almost nothing)."""
    total = UpsertReport()
    size, done = min(32, max_batch), 0
    report(progress, "embedding", 0, len(texts))  # the total is known before any work
    while done < len(texts):
        stop = min(done + size, len(texts))
        began = time.perf_counter()
        part = collection.upsert(texts[done:stop], ids[done:stop], metadata[done:stop])
        for name in ("added", "updated", "metadata_only", "unchanged"):
            getattr(total, name).extend(getattr(part, name))
        per_doc = (time.perf_counter() - began) / (stop - done)
        size = max(1, min(max_batch, int(seconds / per_doc) if per_doc > 0 else max_batch))
        done = stop
        report(progress, "embedding", done, len(texts))
    return total
