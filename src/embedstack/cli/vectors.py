"""`embedstack index FILE.npy|FILE.parquet --into DIR`: index vectors you already have.

Called by `embedstack index` when its inputs are vector files; kept apart so the text
indexing command stays one concept. Vectors stream in batches (memory-bounded) and are
upserted, so running the command again only rewrites rows whose vector changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from embedstack.errors import InputError
from embedstack.store.changes import UpsertReport
from embedstack.store.collection import Collection
from embedstack.store.manifest import MANIFEST
from embedstack.store.vecindex import vector_index_asked
from embedstack.store.vector_files import (
    VectorFields,
    is_vector_file,
    read_vector_batches,
    vector_dim,
)

console = Console(emoji=False)

ANN_HELP = "Vector index of a new collection: exact (scan) or hnsw (approximate graph)."
STORAGE_HELP = (
    "In-memory vector storage: float32, float16, int8, binary "
    "[default: float32; float16 with --ann hnsw]."
)
RESCORE_HELP = (
    "Rescore the top candidates with: float32 (memory-mapped on disk), int8, or none "
    "[default: float32 unless --storage float32]."
)


def vector_inputs(paths: list[Path]) -> bool:
    """True when every input is a vector file; a mix with text files is refused."""
    kinds = {is_vector_file(p) for p in paths}
    if kinds == {True, False}:
        raise InputError("index vector files (.npy/.npz/.parquet) and text files separately")
    return kinds == {True}


def refuse_index_flags(into: str, ann: str, storage: str | None, rescore: str | None) -> None:
    """--ann/--storage/--rescore choose a new collection's vector index: never ignored."""
    if vector_index_asked(ann, storage, rescore):
        raise InputError(
            f"{into} exists: --ann, --storage and --rescore choose the vector index of a "
            "new collection; index into a new folder to change them"
        )


def index_vectors(
    paths: list[Path],
    into: Path,
    *,
    fields: VectorFields,
    ann: str,
    storage: str | None,
    rescore: str | None,
    rebuild_indexes: bool,
    as_json: bool,
) -> None:
    """Stream vector files into a new or existing own-vector collection."""
    if (into / MANIFEST).exists():
        refuse_index_flags(str(into), ann=ann, storage=storage, rescore=rescore)
        collection = Collection.open(into)
    else:
        dim = vector_dim(paths[0], fields)
        collection = Collection.create(into, dim=dim, ann=ann, storage=storage, rescore=rescore)
    total = UpsertReport()
    with collection:
        if rebuild_indexes:
            for name in collection.index_names:
                collection.rebuild_index(name)
        for path in paths:
            for ids, vectors, texts, metadata in read_vector_batches(path, fields):
                report = collection.upsert(ids=ids, vectors=vectors, texts=texts, metadata=metadata)
                for name in ("added", "updated", "metadata_only", "unchanged"):
                    getattr(total, name).extend(getattr(report, name))
        count = len(collection)
        indexes: dict[str, Any] = dict(collection.manifest.indexes)
    if as_json:
        summary = {"collection": str(into), **total.to_dict(), "total": count, "indexes": indexes}
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(
        f"indexed vectors into {escape(str(into))}: {len(total.added)} added, "
        f"{len(total.updated)} updated, {len(total.unchanged)} unchanged; {count} in total "
        f"(indexes: {', '.join(indexes) or 'exact float32 scan'})",
        soft_wrap=True,
    )
