"""Read precomputed vectors from `.npy`, `.npz` or `.parquet` files, in batches.

Batches keep indexing memory-bounded: a `.npy` file is memory-mapped and sliced, a
Parquet file is read one record batch at a time, so a million vectors never need to be
in RAM twice. Each batch is `(ids, vectors, texts or None, metadata)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require
from embedstack.errors import InputError

VECTOR_SUFFIXES = (".npy", ".npz", ".parquet")
Batch = tuple[list[str], np.ndarray, list[str] | None, list[dict[str, Any]] | None]


@dataclass(frozen=True)
class VectorFields:
    """Which columns (Parquet) or arrays (.npz) hold what; a .npy has vectors only and
    its ids are the row numbers."""

    ids: str = "id"
    vector: str = "vector"
    text: str | None = None


def is_vector_file(path: Path) -> bool:
    """Whether `embedstack index` should read this file as vectors."""
    return path.suffix.lower() in VECTOR_SUFFIXES


def vector_dim(path: Path, fields: VectorFields) -> int:
    """The dimension of the vectors in a file, read without loading them all."""
    for _, vectors, _, _ in read_vector_batches(path, fields, batch_size=1):
        return int(vectors.shape[1])
    raise InputError(f"{path} holds no vectors")


def read_vector_batches(
    path: Path, fields: VectorFields, batch_size: int = 50_000
) -> Iterator[Batch]:
    """`(ids, vectors, texts, metadata)` batches of a vector file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    if suffix == ".npy":
        yield from _npy(path, batch_size)
    elif suffix == ".npz":
        yield from _npz(path, fields, batch_size)
    elif suffix == ".parquet":
        yield from _parquet(path, fields, batch_size)
    else:
        raise InputError(f"{path}: vectors must be in {', '.join(VECTOR_SUFFIXES)} files")


def _matrix(array: Any, path: Path) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise InputError(f"{path} must hold a 2-d numeric array (rows x dims), got {arr.shape}")
    return arr


def _npy(path: Path, batch_size: int) -> Iterator[Batch]:
    """Batches read with plain file reads: slices of a memory map would stay resident
    (and count in the process's RSS) until the whole file had been mapped in."""
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
        except ValueError as exc:
            raise InputError(f"{path} is not a readable .npy file ({exc})") from None
        if len(shape) != 2 or fortran or dtype.hasobject or dtype.kind not in "fiu":
            yield from _npy_mapped(path, batch_size)  # unusual layouts: the general path
            return
        rows, dim = shape
        for start in range(0, rows, batch_size):
            stop = min(start + batch_size, rows)
            block = np.fromfile(fh, dtype=dtype, count=(stop - start) * dim)
            if block.size != (stop - start) * dim:
                raise InputError(f"{path} is truncated: it should hold {rows} x {dim} values")
            ids = [str(i) for i in range(start, stop)]
            yield ids, block.reshape(stop - start, dim).astype(np.float32, copy=False), None, None


def _npy_mapped(path: Path, batch_size: int) -> Iterator[Batch]:
    vectors = _matrix(np.load(path, mmap_mode="r", allow_pickle=False), path)
    for start in range(0, vectors.shape[0], batch_size):
        stop = min(start + batch_size, vectors.shape[0])
        ids = [str(i) for i in range(start, stop)]
        yield ids, np.array(vectors[start:stop], dtype=np.float32), None, None


def _npz(path: Path, fields: VectorFields, batch_size: int) -> Iterator[Batch]:
    with np.load(path, allow_pickle=False) as data:
        names = list(data.files)
        if fields.vector not in names:
            raise InputError(
                f"{path} has no array {fields.vector!r} (it has {', '.join(names)}): "
                "name it with --vector-field"
            )
        vectors = _matrix(data[fields.vector], path)
        ids = [str(i) for i in data[fields.ids]] if fields.ids in names else None
        texts = [str(t) for t in data[fields.text]] if fields.text in names else None
    for start in range(0, vectors.shape[0], batch_size):
        stop = min(start + batch_size, vectors.shape[0])
        chunk_ids = ids[start:stop] if ids else [str(i) for i in range(start, stop)]
        chunk_texts = texts[start:stop] if texts else None
        yield chunk_ids, vectors[start:stop].astype(np.float32), chunk_texts, None


def _parquet(path: Path, fields: VectorFields, batch_size: int) -> Iterator[Batch]:
    pq = require("pyarrow.parquet", "static", "reading Parquet files")
    table = pq.ParquetFile(path)
    columns = table.schema_arrow.names
    for needed in (fields.ids, fields.vector):
        if needed not in columns:
            raise InputError(
                f"{path} has no column {needed!r} (it has {', '.join(columns)}): name the "
                "id and vector columns with --ids-field and --vector-field"
            )
    used = {fields.ids, fields.vector, fields.text}
    for batch in table.iter_batches(batch_size=batch_size):
        data = batch.to_pydict()
        vectors = np.asarray(data[fields.vector], dtype=np.float32)
        if vectors.ndim != 2:
            raise InputError(f"{path}: column {fields.vector!r} must hold equal-length lists")
        texts = [str(t) for t in data[fields.text]] if fields.text in data else None
        extra = [c for c in data if c not in used]
        metadata = [{c: data[c][i] for c in extra} for i in range(len(vectors))] if extra else None
        yield [str(i) for i in data[fields.ids]], vectors, texts, metadata
