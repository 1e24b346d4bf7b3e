"""Vectors as append-only `.npy` segments, memory-mapped on open.

Adding rows writes one new segment file, so `add` costs time proportional to the added
rows. A row id is the row's position across the segments in order. Deleted rows stay in
their segment (the SQLite `records` table no longer points at them) until `compact`.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedstack.atomic import write_npy
from embedstack.errors import InputError, StorageError
from embedstack.similarity import Metric
from embedstack.store.checksums import file_checksum, verify_file

VECTORS_DIR = "vectors"
MANIFEST_NAME = "manifest.json"
FEW_ROWS = 64  # take() copies this many rows or fewer one by one
SMALL_BLOCK = 256  # block_scores multiplies this many rows or fewer with one BLAS call


@dataclass(frozen=True)
class Segment:
    """One file of vectors, holding rows start (inclusive) to stop (exclusive)."""

    name: str
    start: int
    array: np.ndarray  # (count, dim) float32, usually a read-only memory map

    @property
    def stop(self) -> int:
        """One past the last row this segment holds."""
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
    as `similarity.scores`. A segment-sized block uses einsum: as fast as BLAS on one core,
    and free of the thread start-up BLAS pays on every call; a few rows (rescoring) use one
    small product, where einsum's set-up costs more (2.4 vs 0.8 us for 20 rows)."""
    dots = block @ query if len(block) <= SMALL_BLOCK else np.einsum("ij,j->i", block, query)
    if metric is Metric.DOT:
        return dots
    return _from_dots(dots, np.einsum("ij,ij->i", block, block), float(query @ query), metric)


def stacked_scores(blocks: np.ndarray, queries: np.ndarray, metric: Metric) -> np.ndarray:
    """`block_scores` of each query against its own block, all at once: blocks (m, c, d)
    and queries (m, d) give (m, c). A batch's rescoring then costs a few numpy calls,
    not a few per query (each query's product is the same small product as there)."""
    dots = np.matmul(blocks, queries[:, :, None])[:, :, 0]
    if metric is Metric.DOT:
        return dots
    rows_squared = np.einsum("mcd,mcd->mc", blocks, blocks)
    return _from_dots(dots, rows_squared, np.einsum("md,md->m", queries, queries)[:, None], metric)


def _from_dots(
    dots: np.ndarray, rows_squared: np.ndarray, query_squared: float | np.ndarray, metric: Metric
) -> np.ndarray:
    """Cosine or negated euclidean distance from dot products and squared norms (the
    query's broadcast against its rows)."""
    if metric is Metric.COSINE:
        norms = np.sqrt(rows_squared) * np.sqrt(query_squared)
        norms[norms == 0] = 1.0
        return dots / norms
    return -np.sqrt(np.maximum(rows_squared + query_squared - 2.0 * dots, 0.0))


class FlatVectors:
    """The ordered list of segments of one collection (exact search over all of them)."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.dir = folder / VECTORS_DIR
        self.dim = dim
        self.segments: list[Segment] = []
        self._starts: list[int] = []  # each segment's first row, for take()

    @property
    def total(self) -> int:
        """Number of rows across all segments, deleted ones included."""
        return self.segments[-1].stop if self.segments else 0

    def load(self, listing: list[tuple[str, int, int, str | None]], fix: str) -> None:
        """Memory-map the segments the database lists as (name, start, count, checksum).
        A segment already mapped is reused (segments never change); a new one is
        verified against its checksum first. `fix` says how to repair a damaged one."""
        mapped = {seg.name: seg for seg in self.segments}
        segments = []
        expected_start = 0
        for name, start, count, checksum in sorted(listing, key=lambda s: s[1]):
            seg = mapped.get(name)
            if seg is None or seg.start != start:
                seg = Segment(name, start, self._open(self.dir / name, count, checksum, fix))
            if start != expected_start:
                raise StorageError(
                    f"vector file {self.dir / name} starts at row {start}, expected "
                    f"{expected_start}: the database is inconsistent; {fix}"
                )
            segments.append(seg)
            expected_start = start + count
        self.segments = segments
        self._starts = [seg.start for seg in segments]

    def _open(self, path: Path, count: int, checksum: str | None, fix: str) -> np.ndarray:
        if not path.is_file():
            raise StorageError(f"vector file {path} is missing; {fix}")
        verify_file(path, checksum, fix)
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:  # EOFError: a 0-byte file
            problem = "empty (0 bytes)" if path.stat().st_size == 0 else f"unreadable ({exc})"
            raise StorageError(f"vector file {path} is {problem}; {fix}") from exc
        if array.ndim == 2 and array.dtype == np.float32 and array.shape[0] == count:
            if array.shape[1] != self.dim:
                raise StorageError(
                    f"{MANIFEST_NAME} says the vectors are {self.dim}-d, but {path} holds "
                    f"{array.shape[1]}-d vectors: the manifest was edited or damaged "
                    f'(its "dim" should be {array.shape[1]})'
                )
            # a plain ndarray over the same mapping: indexing an np.memmap builds memmap
            # objects (~5 us each), which a 1M-row HNSW search paid ~9 times per query
            return array.view(np.ndarray)
        raise StorageError(
            f"vector file {path} has shape {array.shape} {array.dtype}, expected "
            f"({count}, {self.dim}) float32; {fix}"
        )

    def healthy(self, name: str, count: int, checksum: str | None) -> bool:
        """Whether a listed segment opens and matches its checksum."""
        try:
            self._open(self.dir / name, count, checksum, "")
        except StorageError:
            return False
        return True

    def new_segment_path(self, write_id: str) -> Path:
        """A fresh file name for the next segment; it carries the id of the write that
        creates it, so cleanup after a crash can tell exactly which files to remove."""
        return self.dir / f"seg-{write_id}-{uuid.uuid4().hex[:6]}.npy"

    def write_segment(self, path: Path, vectors: np.ndarray) -> str:
        """Write a segment durably and return its checksum; it is not part of the
        collection until the database commit lists it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_npy(path, np.ascontiguousarray(vectors, dtype=np.float32))
        return file_checksum(path)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of the given row ids, in that order (only the segments they fall in
        are touched: a few rescored rows of a 1M-row collection visit a few segments).
        It runs right after every graph walk, with the CPU caches cold, so it keeps to
        few numpy calls: a few rows are looked up in plain Python, many are read per
        segment in row order (nearby rows share pages)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows) or not self.segments:
            return np.empty((rows.shape[0], self.dim), dtype=np.float32)
        if len(rows) <= FEW_ROWS:  # e.g. rescoring: a copy per row beats a mask per segment
            listed = rows.tolist()
            self._check_rows(min(listed), max(listed))
            if len(self.segments) == 1:
                return self.segments[0].array[rows]
            out = np.empty((len(listed), self.dim), dtype=np.float32)
            for i, row in enumerate(listed):
                seg = self.segments[bisect_right(self._starts, row) - 1]
                out[i] = seg.array[row - seg.start]
            return out
        self._check_rows(int(rows.min()), int(rows.max()))
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        bounds = [*np.searchsorted(ordered, self._starts).tolist(), len(rows)]
        out = np.empty((rows.shape[0], self.dim), dtype=np.float32)
        for seg, lo, hi in zip(self.segments, bounds, bounds[1:], strict=False):
            if hi > lo:
                out[order[lo:hi]] = seg.array[ordered[lo:hi] - seg.start]
        return out

    def _check_rows(self, lowest: int, highest: int) -> None:
        if lowest < 0 or highest >= self.total:
            raise IndexError(f"rows {lowest}..{highest} go beyond the stored vectors")

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
