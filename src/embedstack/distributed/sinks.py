"""Where a job's vectors go: a folder of Parquet shards, or a collection.

Parquet: workers write `part-NNNNNN.parquet` (columns id, vector, space, hash) straight
into the destination; the job state lives in its `_embed_corpus/` folder, which Parquet
readers skip. Collection: workers write staged shards (plus text and metadata) into the
state folder and the driver, the collection's single writer, loads each one with the
existing `embed_corpus` upsert, one atomic commit per unit. The collection is reached
only through `Collection.open/create`, so any backend behind them (an embedded folder,
a `postgresql://` URL) works unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack import atomic
from embedstack._optional import require
from embedstack.encoders.base import Encoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.store.backend import as_location, collection_exists, is_database_url
from embedstack.store.collection import Collection
from embedstack.store.ingest import embed_corpus
from embedstack.store.manifest import MANIFEST
from embedstack.text.shards import Unit
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)
FORMATS = ("parquet", "collection")
STATE_DIR = "_embed_corpus"


def is_url(dest: str) -> bool:
    """True when the destination is a PostgreSQL URL rather than a folder."""
    return is_database_url(dest)


def resolve_format(dest: str, fmt: str | None) -> str:
    """`--format`, else: an existing collection or a database URL means a collection."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if fmt == "parquet" and is_url(dest):
            raise InputError(f"{dest} is a database URL: Parquet output needs a folder")
        return fmt
    if is_url(dest) or (Path(dest) / MANIFEST).exists():
        return "collection"
    return "parquet"


def state_folder(dest: str, fmt: str, state: str | Path | None) -> Path:
    """Where the job manifest lives: `--state`, else inside a Parquet destination, else
    beside a collection folder (a database URL has no folder: `--state` is required)."""
    if state is not None:
        return Path(state)
    if fmt == "parquet":
        return Path(dest) / STATE_DIR
    if is_url(dest):
        raise InputError("a database destination needs --state DIR for the job manifest")
    return Path(f"{Path(dest)}.embed-corpus")


def existing_spec(dest: str, fmt: str) -> str | None:
    """The model spec of an existing collection at `dest`, else None."""
    if fmt != "collection" or not collection_exists(as_location(dest)):
        return None
    with Collection.open(as_location(dest)) as collection:
        return collection.manifest.model_spec


class PrecomputedEncoder(Encoder):
    """Serves vectors the workers already made, so the collection's own upsert (hashing,
    skipping unchanged rows, atomic commit) stores them without embedding again."""

    def __init__(self, space: EmbeddingSpace) -> None:
        self.space = space
        self._table: dict[str, np.ndarray] = {}

    def load(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember the workers' vectors of these texts; encoding them then returns these."""
        self._table = dict(zip(texts, vectors, strict=True))

    def _lookup(self, texts: list[str]) -> np.ndarray:
        prefix, out = self.space.document_prefix, []
        for text in texts:
            vector = self._table.get(text)
            if vector is None and prefix and text.startswith(prefix):
                vector = self._table.get(text[len(prefix) :])
            if vector is None:
                raise EmbedstackError(f"no precomputed vector for text {text[:60]!r}")
            out.append(vector)
        return np.stack(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """The workers' vectors for `texts` (the base normalises unit rows idempotently)."""
        return self._lookup(texts)


class ParquetSink:
    """A folder of `part-NNNNNN.parquet` shards, one per unit."""

    format = "parquet"
    staged = False

    def __init__(self, dest: str, state: str | Path | None) -> None:
        self.folder = Path(dest)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{dest} is a file: give a folder for the Parquet shards")
        self.state_dir = state_folder(dest, self.format, state)
        ours = (self.state_dir / "job.json").exists()
        if self.folder.exists() and any(self.folder.iterdir()) and not ours:
            raise InputError(
                f"{dest} exists, is not empty and holds no embed-corpus job: choose a new "
                "folder (or an existing collection with --format collection)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.out_dir = self.folder
        for leftover in self.folder.glob(".part-*.tmp"):  # a killed worker's partial write
            atomic.remove(leftover)

    def check_space(self, space: EmbeddingSpace) -> None:
        """A new Parquet job takes the model's space; the job manifest guards re-runs."""

    def output_exists(self, file: str | None) -> bool:
        """True when the unit's shard file is already in the output folder."""
        return file is not None and (self.folder / file).is_file()

    def commit(self, unit: Unit, file: str) -> None:
        """Nothing to do: the worker's atomic write made the shard durable."""

    def finish(self, files: list[str]) -> dict[str, Any]:
        """Check that no id appears in two shards (the input repeated it), counting in
        Arrow rather than Python so 50M ids take seconds, not a dict of 50M strings."""
        pa = require("pyarrow", "distributed", "reading Parquet shards")
        pc = require("pyarrow.compute", "distributed", "reading Parquet shards")
        pq = require("pyarrow.parquet", "distributed", "reading Parquet shards")
        columns = [pq.read_table(self.folder / f, columns=["id"]).column(0) for f in files]
        chunks = [chunk for column in columns for chunk in column.chunks]
        if not chunks:
            return {"duplicate_ids": [], "duplicates": 0}
        counts = pc.value_counts(pa.chunked_array(chunks, pa.string()))
        repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
        examples = repeated.to_pylist()[:20]
        if examples:
            log.warning("%d ids appear in two units, e.g. %r", len(repeated), examples[0])
        return {"duplicate_ids": examples, "duplicates": len(repeated)}

    def close(self) -> None:
        """Nothing to release: shards are written and closed one by one."""
        pass


class CollectionSink:
    """An embedded collection or a database URL, loaded one unit per commit."""

    format = "collection"
    staged = True

    def __init__(self, dest: str, spec: str | Encoder, state: str | Path | None) -> None:
        self.state_dir = state_folder(dest, self.format, state)
        where = as_location(dest)
        exists = collection_exists(where)
        collection = Collection.open(where) if exists else Collection.create(where, spec)
        self.space = collection.space
        self._encoder = PrecomputedEncoder(collection.space)
        collection.close()
        self.collection = Collection.open(where, encoder=self._encoder)
        self.out_dir = self.state_dir / "staging"
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def check_space(self, space: EmbeddingSpace) -> None:
        """Raise unless the job's embedding space is the collection's."""
        self.space.require_same(space)

    def output_exists(self, file: str | None) -> bool:
        """Always true: a committed unit needs no output file."""
        return True  # a unit is done once committed; its staging file is gone by then

    def commit(self, unit: Unit, file: str) -> None:
        """Load one staged shard in one upsert: all of the unit's rows or none."""
        pq = require("pyarrow.parquet", "distributed", "reading Parquet shards")
        path = self.out_dir / file
        table = pq.read_table(path)
        ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
        metadata = [json.loads(m) for m in table.column("metadata").to_pylist()]
        flat = table.column("vector").combine_chunks().flatten().to_numpy()
        self._encoder.load(texts, np.asarray(flat, np.float32).reshape(len(ids), self.space.dim))
        records = list(zip(ids, texts, metadata, strict=True))
        embed_corpus(records, self.collection, chunk_size=max(1, len(records)), progress=False)
        atomic.remove(path)

    def finish(self, files: list[str]) -> dict[str, Any]:
        """Nothing extra to report: the rows are already committed."""
        return {}

    def close(self) -> None:
        """Close the collection the units were written to."""
        self.collection.close()


def open_sink(dest: str, fmt: str, spec: str | Encoder, state: str | Path | None) -> Any:
    """The sink for a destination: a collection, or a folder of Parquet shards. `spec`
    creates a new collection: a model spec, or an encoder built with options."""
    if fmt == "collection":
        return CollectionSink(dest, spec, state)
    return ParquetSink(dest, state)
