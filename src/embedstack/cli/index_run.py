"""What `embedstack index` does once its flags are parsed: load documents, check their
length against the model (or cut them into chunks), upsert, and say what happened.

Every flag that has an effect says so: indexes built, rebuilt or left alone, flags
ignored on an existing collection, documents longer than the model embeds (one summary
per run, naming the flag that fixes it, instead of one warning per embedded batch).
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from embedstack.cli.output import console, dumps, err, report_skipped
from embedstack.cli.progress_view import progress_view
from embedstack.cli.vectors import refuse_index_flags
from embedstack.errors import EmbedstackError, InputError
from embedstack.store.backend import as_location, collection_exists, is_database_url
from embedstack.store.changes import content_hash
from embedstack.store.collection import Collection
from embedstack.store.indexes import index_configs
from embedstack.store.ingest import upsert_in_batches
from embedstack.store.prune import prune_missing, stale_ids
from embedstack.text.loaders import Fields, LoadResult, load_documents

TRUNCATE_CHOICES = ("warn", "error")
SHOWN_IDS = 5  # ids of over-long documents named in the --truncate error


@dataclass
class IndexRequest:
    """The parsed flags of `embedstack index` (text inputs)."""

    paths: list[Path]
    into: str
    model: Any  # a spec string, an Encoder, or None for the default
    fields: Fields
    bm25: bool = True
    wanted: dict[str, dict[str, Any]] = field(default_factory=dict)  # --splade/--colbert
    rebuild_indexes: bool = False
    prune: bool = False
    rebuild_vectors: bool = False
    max_bytes: int = 10_000_000
    batch: int = 1024
    truncate: str = "warn"
    chunk_tokens: int | None = None
    chunk_overlap: int = 0
    as_json: bool = False
    quiet: bool = False
    ann: str = "exact"  # the vector index of a new collection (--ann/--storage/--rescore)
    storage: str | None = None
    rescore: str | None = None

    @property
    def vector_index(self) -> dict[str, Any]:
        """Collection.create keywords for the vector index the flags ask for."""
        return {"ann": self.ann, "storage": self.storage, "rescore": self.rescore}


def check_request(req: IndexRequest) -> None:
    """Refuse bad flag values before anything is read or written."""
    if req.max_bytes <= 0 or req.batch < 1:
        raise InputError("--max-file-mb must be positive and --batch at least 1")
    if req.truncate not in TRUNCATE_CHOICES:
        raise InputError(f"--truncate must be warn or error, got {req.truncate!r}")
    if req.chunk_tokens is not None and req.chunk_tokens < 1:
        raise InputError(f"--chunk-tokens must be at least 1, got {req.chunk_tokens}")
    if req.chunk_overlap and req.chunk_tokens is None:
        raise InputError("--chunk-overlap needs --chunk-tokens N (the chunk size)")


@contextmanager
def _one_truncation_summary() -> Iterator[None]:
    """Drop the encoders' per-batch truncation warnings: the run prints one summary."""

    def keep(record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return "truncated" not in message and "only their start is tokenised" not in message

    loggers = [
        logging.getLogger(n) for n in ("embedstack.encoders.onnx", "embedstack.store.writes")
    ]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)


def _length_check(collection: Any, req: IndexRequest, texts: list[str], ids: list[str]) -> str:
    """A summary of the documents the model would cut ('' if none); raises under
    `--truncate error`."""
    from embedstack.apps.chunked import too_long

    try:
        encoder = collection.encoder
    except EmbedstackError:
        return ""  # a collection of the user's own vectors: no model to cut anything
    stored = collection.content_hashes(ids)  # unchanged documents were checked before
    todo = [i for i, t in enumerate(texts) if stored.get(ids[i]) != content_hash(t)]
    long = [todo[i] for i in too_long(encoder, [texts[i] for i in todo])]
    if not long:
        return ""
    limit = encoder.space.max_tokens
    head = (
        f"{len(long)} of the {len(todo)} new or changed documents are longer than "
        f"{encoder.name}'s {limit} tokens"
    )
    if req.truncate == "error":
        shown = ", ".join(ids[i] for i in long[:SHOWN_IDS]) + (
            " ..." if len(long) > SHOWN_IDS else ""
        )
        raise InputError(
            f"{head} ({shown}); index them in chunks with --chunk-tokens N "
            "(e.g. --chunk-tokens 200 --chunk-overlap 20), or let them be cut with --truncate warn"
        )
    return (
        f"{head}: only their start was embedded; index them whole in chunks with "
        "--chunk-tokens N (or refuse them with --truncate error)"
    )


def run_index(req: IndexRequest) -> None:
    """Index the documents of `req.paths` into `req.into`, then print the summary."""
    check_request(req)
    where = as_location(req.into)
    fresh = not collection_exists(where)
    made_folder = fresh and not is_database_url(where) and not Path(where).exists()
    result = load_documents(req.paths, req.fields, max_bytes=req.max_bytes)
    if not result.documents and not (req.prune and not fresh):
        report_skipped(result.skipped)
        raise InputError(
            f"no documents to index in {', '.join(map(str, req.paths))} "
            f"({len(result.skipped)} skipped, {result.ignored} of other types)"
        )
    with progress_view(err, enabled=not req.as_json, quiet=req.quiet) as progress:
        if fresh:
            indexes = {**index_configs(None if req.bm25 else ()), **req.wanted}
            collection = Collection.create(where, req.model, indexes=indexes, **req.vector_index)
        else:
            refuse_index_flags(req.into, **req.vector_index)
            collection = Collection.open(where, req.model)
        try:
            prepared = _prepare(collection, req, result)
        except EmbedstackError:
            collection.close()
            if made_folder:
                shutil.rmtree(Path(where), ignore_errors=True)  # nothing was written yet
            raise
        with collection, _one_truncation_summary():
            outcome = _write(collection, req, result, fresh, prepared, progress)
    report_skipped(result.skipped)
    _print(collection, req, result, outcome)


@dataclass
class _Outcome:
    report: Any
    pruned: list[str]
    total: int
    notes: list[str]
    warning: str = ""
    chunks: int | None = None


@dataclass
class _Prepared:
    texts: list[str]
    ids: list[str]
    metadata: list[dict[str, Any]]
    chunked: Any = None  # ChunkedDocuments under --chunk-tokens
    warning: str = ""


def _prepare(collection: Any, req: IndexRequest, result: LoadResult) -> _Prepared:
    """The rows to upsert: whole documents (length-checked) or their chunks."""
    docs = result.documents
    if req.chunk_tokens is None:
        texts, ids = [d.text for d in docs], [d.id for d in docs]
        warning = _length_check(collection, req, texts, ids)
        return _Prepared(texts, ids, [d.metadata for d in docs], None, warning)
    from embedstack.apps.chunked import chunk_documents
    from embedstack.text.chunking import Chunker

    chunker = Chunker.for_encoder(collection.encoder, req.chunk_tokens, req.chunk_overlap)
    chunked = chunk_documents(docs, chunker)
    return _Prepared(chunked.texts, chunked.ids, chunked.metadata, chunked)


def _write(
    collection: Any,
    req: IndexRequest,
    result: LoadResult,
    fresh: bool,
    rows: _Prepared,
    progress: Any,
) -> _Outcome:
    notes: list[str] = []
    if not fresh and not req.bm25 and "bm25" in collection.index_names:
        notes.append(
            "--no-bm25 ignored: it applies when a collection is created; this one keeps "
            "its BM25 index"
        )
    if req.rebuild_vectors:
        repaired = collection.rebuild_vectors(progress=progress)
        notes.append(f"re-embedded {repaired} rows of damaged vector files")
    if req.rebuild_indexes:
        names = collection.index_names
        for name in names:
            collection.rebuild_index(name)
        notes.append(f"rebuilt indexes: {', '.join(names)}" if names else "no indexes to rebuild")
    if rows.chunked is not None:
        from embedstack.apps.chunked import stale_chunk_ids

        stale = stale_chunk_ids(collection.ids(), rows.chunked)
        if stale:
            collection.delete(stale)
            notes.append(f"deleted {len(stale)} chunks no longer produced by their documents")
    report = upsert_in_batches(
        collection, rows.texts, rows.ids, rows.metadata, max_batch=req.batch, progress=progress
    )
    pruned = _prune(collection, req, result, rows.ids) if req.prune else []
    notes += _model_indexes(collection, req.wanted)
    chunks = len(rows.ids) if rows.chunked is not None else None
    return _Outcome(report, pruned, len(collection), notes, rows.warning, chunks)


def _prune(collection: Any, req: IndexRequest, result: LoadResult, ids: list[str]) -> list[str]:
    if req.chunk_tokens is None:
        return prune_missing(collection, req.paths, result)
    protected = [re.sub(r":\d+$", "", s.where) for s in result.skipped]
    stale = stale_ids(collection.source_paths(), req.paths, ids, protected)
    if stale:
        collection.delete(stale)
    return stale


def _model_indexes(collection: Any, wanted: dict[str, dict[str, Any]]) -> list[str]:
    """Build each wanted model index the collection lacks (or has with another model)."""
    notes = []
    for name, settings in wanted.items():
        current = collection.manifest.indexes.get(name)
        if current is not None and current.get("model") == settings["model"]:
            notes.append(f"{name} index already built with {settings['model']}: kept")
            continue
        collection.rebuild_index(name, settings)
        verb = "built" if current is None else "rebuilt (new model)"
        notes.append(f"{name} index {verb} over {len(collection)} rows")
    return notes


def _print(collection: Any, req: IndexRequest, result: LoadResult, out: _Outcome) -> None:
    shown = str(collection.path)  # a folder, or the URL without its password
    docs, report = result.documents, out.report
    if req.as_json:
        summary = {
            "collection": shown,
            "documents": len(docs),
            "files": result.files,
            **report.to_dict(),
            "pruned": len(out.pruned),
            "total": out.total,
            "skipped": [{"where": s.where, "reason": s.reason} for s in result.skipped],
            "notes": out.notes,
        }
        if out.chunks is not None:
            summary["chunks"] = out.chunks
        if out.warning:
            summary["warning"] = out.warning
        typer.echo(dumps(summary))
        return
    if out.warning:
        err.print(f"[yellow]warning:[/] {escape(out.warning)}", soft_wrap=True)
    units = f"{out.chunks} chunks of {len(docs)} documents" if out.chunks is not None else None
    if report.embedded == 0:
        console.print(
            f"nothing to embed: all {units or f'{len(docs)} documents'} are unchanged "
            f"({len(report.metadata_only)} metadata updates); {out.total} in {escape(shown)}",
            soft_wrap=True,
        )
    else:
        console.print(
            f"indexed {units or f'{len(docs)} documents'} from {result.files} files into "
            f"{escape(shown)}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged; embedded {report.embedded}; "
            f"{out.total} in total",
            soft_wrap=True,
        )
    for note in out.notes:
        console.print(escape(note), soft_wrap=True)
    if req.prune:
        console.print(
            f"pruned {len(out.pruned)} documents whose source is gone; {out.total} in total",
            soft_wrap=True,
        )
