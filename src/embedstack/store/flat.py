"""Vectors as append-only `.npy` segments, memory-mapped on open.

Adding rows writes one new segment file, so `add` costs time proportional to the added
rows. A row id is the row's position across the segments in order. Deleted rows stay in
their segment (the SQLite `records` table no longer points at them) until `compact`.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedstack.errors import CollectionError, InputError
from embedstack.similarity import Metric
from embedstack.store.files import fsync_dir

VECTORS_DIR = "vectors"


@dataclass(frozen=True)
class Segment:
    name: str
    start: int
    array: np.ndarray  # (count, dim) float32, usually a read-only memory map

    @property
    def stop(self) -> int:
        return self.start + self.array.shape[0]


def check_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Refuse vectors of the wrong shape or with NaN/inf before anything is written."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InputError(
            f"vectors have shape {arr.shape}, but this collection holds {dim}-d vectors: "
            "embed with the collection's encoder"
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} vector(s) contain NaN or infinity (first at position "
            f"{int(np.argmax(bad))}); nothing was written"
        )
    return arr


def block_scores(block: np.ndarray, query: np.ndarray, metric: Metric) -> np.ndarray:
    """Larger-is-better scores of one query against the rows of `block`, the same values
    as `similarity.scores`. Matrix-vector products with einsum: as fast as BLAS on one
    core, and free of the thread start-up BLAS pays on every call, once per segment."""
    dots = np.einsum("ij,j->i", block, query)
    if metric is Metric.DOT:
        return dots
    if metric is Metric.COSINE:
        norms = np.sqrt(np.einsum("ij,ij->i", block, block)) * np.linalg.norm(query)
        norms[norms == 0] = 1.0
        return dots / norms
    squared = np.einsum("ij,ij->i", block, block) + float(query @ query) - 2.0 * dots
    return -np.sqrt(np.maximum(squared, 0.0))


class FlatVectors:
    """The ordered list of segments of one collection (exact search over all of them)."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.dir = folder / VECTORS_DIR
        self.dim = dim
        self.segments: list[Segment] = []

    @property
    def total(self) -> int:
        return self.segments[-1].stop if self.segments else 0

    def load(self, listing: list[tuple[str, int, int]]) -> None:
        """Memory-map the segments the database lists as (name, start, count)."""
        segments = []
        expected_start = 0
        for name, start, count in sorted(listing, key=lambda s: s[1]):
            path = self.dir / name
            fix = "the collection is damaged: re-index it into a new folder"
            if not path.is_file():
                raise CollectionError(f"vector file {path} is missing; {fix}")
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise CollectionError(f"vector file {path} is unreadable ({exc}); {fix}") from exc
            if (
                array.shape != (count, self.dim)
                or array.dtype != np.float32
                or start != (expected_start)
            ):
                raise CollectionError(
                    f"vector file {path} has shape {array.shape} {array.dtype}, expected "
                    f"({count}, {self.dim}) float32 at row {start}; {fix}"
                )
            segments.append(Segment(name, start, array))
            expected_start = start + count
        self.segments = segments

    def new_segment_path(self) -> Path:
        """A fresh file name for the next segment (register it for cleanup, then write)."""
        return self.dir / f"seg-{uuid.uuid4().hex[:16]}.npy"

    def write_segment(self, path: Path, vectors: np.ndarray) -> None:
        """Write a segment durably; it is not part of the collection until the database
        commit lists it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(self.dir)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of the given row ids, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((rows.shape[0], self.dim), dtype=np.float32)
        for seg in self.segments:
            mask = (rows >= seg.start) & (rows < seg.stop)
            if mask.any():
                out[mask] = seg.array[rows[mask] - seg.start]
        return out

    def scores(
        self, query: np.ndarray, metric: Metric | str, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Similarity of `query` to every row (rows None) or to `rows` (sorted ids)."""
        parts = []
        for seg in self.segments:
            if rows is None:
                block = seg.array
            else:
                lo, hi = np.searchsorted(rows, [seg.start, seg.stop])
                if lo == hi:
                    continue
                block = seg.array[rows[lo:hi] - seg.start]
            parts.append(block_scores(block, query, Metric(metric)))
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)
