"""One unit of work, the same on every executor: read rows, embed, write one shard file.

The local executor and every Ray actor call `embed_unit` with an encoder they loaded
once, so a corpus embedded on a cluster is byte-for-byte the job a single process does.
A unit's shard is written atomically under a name fixed by the unit, so a unit redone
after a crash replaces its own file and can never add rows twice.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedstack import atomic
from embedstack._optional import require
from embedstack.encoders.base import Encoder
from embedstack.errors import EmbedstackError
from embedstack.store.changes import content_hash
from embedstack.text.loaders import Document, Fields
from embedstack.text.shards import Unit, read_unit
from embedstack.types import EmbeddingSpace, Kind

COLUMNS = ("id", "vector", "space", "hash")
STAGED_COLUMNS = (*COLUMNS, "text", "metadata")  # a collection also needs these
MAX_INVALID = 20  # invalid rows named per unit (all are counted)


@dataclass(frozen=True)
class JobConfig:
    """What every worker needs to rebuild the encoder and write a unit (plain data, so it
    crosses process and machine boundaries as JSON)."""

    spec: str
    space: dict[str, Any]
    out_dir: str
    options: dict[str, Any] = field(default_factory=dict)
    text_field: str = "text"
    id_field: str = "id"
    batch_size: int | None = None
    staged: bool = False  # keep text + metadata for a collection to load

    @property
    def fields(self) -> Fields:
        """Which input fields hold the text and the id."""
        return Fields(text=self.text_field, id=self.id_field)

    @property
    def embedding_space(self) -> EmbeddingSpace:
        """The job's embedding space, rebuilt from its serialised form."""
        return EmbeddingSpace.from_dict(self.space)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form, so the config can be shipped to workers as JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobConfig:
        """Rebuild a config from its `to_dict` form."""
        return cls(**data)


@dataclass
class UnitResult:
    """What a worker reports for one unit; `error` is set when the unit failed."""

    index: int
    key: str
    planned: int
    rows: int = 0
    invalid: list[str] = field(default_factory=list)
    seconds: float = 0.0
    worker: str = ""
    file: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form, so the result can come back from a worker as JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        """Rebuild a result from its `to_dict` form."""
        return cls(**data)


def worker_name() -> str:
    """host:pid, naming this process in per-worker stats."""
    return f"{socket.gethostname()}:{os.getpid()}"


def shard_name(unit: Unit) -> str:
    """The unit's shard file name, fixed by its index so a redo replaces it."""
    return f"part-{unit.index:06d}.parquet"


def load_job_encoder(config: JobConfig) -> Encoder:
    """The job's encoder, checked against the driver's space (a worker with another
    model version would otherwise mix spaces silently). Hosted encoders run uncached:
    the unit manifest is what makes a re-run skip finished work."""
    from embedstack.registry import HOSTED_PROVIDERS, load_encoder

    options = dict(config.options)
    if config.spec.partition(":")[0] in HOSTED_PROVIDERS:
        options.setdefault("cache", False)
    encoder = load_encoder(config.spec, **options)
    config.embedding_space.require_same(encoder.space, what="job (on this worker)")
    return encoder


def shard_table(docs: list[Document], vectors: np.ndarray, space: str, staged: bool) -> Any:
    """An Arrow table with columns id, vector (fixed-size list of float32), space, hash."""
    pa = require("pyarrow", "distributed", "writing Parquet shards")
    dim = vectors.shape[1]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1), pa.float32())
    columns: dict[str, Any] = {
        "id": pa.array([d.id for d in docs], pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
        "space": pa.array([space] * len(docs), pa.string()),
        "hash": pa.array([content_hash(d.text) for d in docs], pa.string()),
    }
    if staged:
        columns["text"] = pa.array([d.text for d in docs], pa.string())
        columns["metadata"] = pa.array([json.dumps(d.metadata) for d in docs], pa.string())
    return pa.table(columns)


def write_shard(path: Path, table: Any, unit: Unit, space: EmbeddingSpace) -> None:
    """Atomically write `table` as Parquet, with the unit and full space in its metadata."""
    pq = require("pyarrow.parquet", "distributed", "writing Parquet shards")
    meta = {
        b"embedstack.unit": unit.key.encode(),
        b"embedstack.space": json.dumps(space.to_dict(), sort_keys=True).encode(),
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def embed_unit(unit: Unit, encoder: Encoder, config: JobConfig) -> UnitResult:
    """Read, embed and write one unit. Any failure is reported in the result (with the
    unit named) instead of raised, so one bad unit never stops the other workers."""
    start = time.perf_counter()
    result = UnitResult(unit.index, unit.key, unit.rows, worker=worker_name())
    try:
        docs, skipped = read_unit(unit, config.fields)
        texts = [d.text for d in docs]
        vectors = (
            encoder.encode(texts, kind=Kind.DOCUMENT, batch_size=config.batch_size)
            if texts
            else np.zeros((0, encoder.dim), dtype=np.float32)
        )
        space = config.embedding_space
        table = shard_table(docs, vectors, space.key(), config.staged)
        write_shard(Path(config.out_dir) / shard_name(unit), table, unit, space)
    except Exception as exc:  # reported per unit; the job goes on and a re-run retries it
        kind = "" if isinstance(exc, EmbedstackError) else f"{type(exc).__name__}: "
        result.error = f"{kind}{exc}"
    else:
        result.rows = len(docs)
        result.invalid = [str(s) for s in skipped[:MAX_INVALID]]  # the count is planned - rows
        result.file = shard_name(unit)
    result.seconds = time.perf_counter() - start
    return result
