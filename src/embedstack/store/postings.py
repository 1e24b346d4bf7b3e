"""Incremental inverted-index storage shared by the BM25 and SPLADE indexes.

Postings live in immutable *segments* (a log-structured design, as in Lucene): adding
documents writes one small new segment, deleting a document only flips its entry in
the `generation` array (a tombstone), and small segments are merged into larger ones
geometrically, so an update costs time proportional to the changed documents (plus an
amortised O(log N) merge share) instead of a rebuild. Each segment keeps two views of
the same postings: term-major (for queries) and document-major (so a delete knows which
terms lost a document, which keeps BM25's document frequencies exact).

Row `r` is live in segment `s` exactly when `generation[r] == s.id`; `-1` means absent.
All arrays are plain `.npy` files; segments are memory-mapped on load and never
modified in place.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.store.index_files import index_error, load_json, load_npy, save_json, save_npy
from embedstack.store.ranking import allowed_mask, top_k

__all__ = [
    "PostingStore",
    "Segment",
    "allowed_mask",
    "check_rows",
    "index_error",
    "load_json",
    "load_npy",
    "save_json",
    "save_npy",
    "top_k",
]
log = logging.getLogger(__name__)

_SEGMENT_ARRAYS = ("indptr", "rows", "values", "doc_rows", "doc_indptr", "doc_terms")
MERGE_RATIO = 2  # merge the newest segment into the previous one once it is >= 1/2 its size
MAX_SEGMENTS = 16
MAX_DEAD_FRACTION = 0.5
MAX_ROWS = 2**31 - 1  # postings store row ids as int32 (half the memory of int64)


@dataclass
class Segment:
    """One immutable block of postings: term-major CSC plus a document-major copy."""

    id: int
    name: str
    indptr: np.ndarray  # (n_terms + 1,) postings of term t: rows/values[indptr[t]:indptr[t+1]]
    rows: np.ndarray  # (nnz,) int32 row ids
    values: np.ndarray  # (nnz,) float32 term counts (BM25) or weights (SPLADE)
    doc_rows: np.ndarray  # (n_docs,) sorted row ids held by this segment
    doc_indptr: np.ndarray  # (n_docs + 1,)
    doc_terms: np.ndarray  # term ids of each document, in doc_rows order
    dead: int = 0  # documents of this segment deleted since it was written

    @property
    def n_terms(self) -> int:
        """Number of term slots in this segment."""
        return len(self.indptr) - 1

    @property
    def n_docs(self) -> int:
        """Number of documents this segment was built with, deleted ones included."""
        return len(self.doc_rows)

    @property
    def live_nnz(self) -> int:
        """Estimated live postings, assuming deleted documents were of average size."""
        return int(len(self.rows) * (1 - self.dead / max(self.n_docs, 1)))

    @classmethod
    def build(
        cls,
        seg_id: int,
        docs: np.ndarray,
        *,
        rows: np.ndarray,
        terms: np.ndarray,
        values: np.ndarray,
        n_terms: int,
    ) -> Segment:
        """Build both views from (row, term, value) triples, one per distinct pair.

        `docs` lists every document of the segment, including ones without any term
        (they still count towards N and the average length).
        """
        order = np.lexsort((rows, terms))
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms), out=indptr[1:])
        by_doc = np.lexsort((terms, rows))
        doc_rows = np.sort(np.asarray(docs, dtype=np.int64))
        counts = np.bincount(np.searchsorted(doc_rows, rows), minlength=len(doc_rows))
        doc_indptr = np.zeros(len(doc_rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=doc_indptr[1:])
        return cls(
            id=seg_id,
            name=f"seg{seg_id:06d}-{uuid.uuid4().hex[:8]}",
            indptr=indptr,
            rows=rows[order].astype(np.int32),
            values=values[order].astype(np.float32),
            doc_rows=doc_rows,
            doc_indptr=doc_indptr,
            doc_terms=terms[by_doc].astype(np.int32),
        )

    def live_coo(self, generation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Postings still live in this segment as (rows, terms, values)."""
        terms = np.repeat(np.arange(self.n_terms, dtype=np.int64), np.diff(self.indptr))
        rows, values = np.asarray(self.rows, dtype=np.int64), np.asarray(self.values)
        if self.dead:
            keep = generation[rows] == self.id
            return rows[keep], terms[keep], values[keep]
        return rows, terms, values


class PostingStore:
    """Segments + tombstones for one index. `name` prefixes its files on disk."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.segments: list[Segment] = []
        self.generation = np.full(0, -1, dtype=np.int64)
        self.next_id = 0
        self.origin: Path | None = None  # folder the segment files were last saved to

    # -- rows -----------------------------------------------------------------------
    def _grow(self, max_row: int) -> None:
        if max_row >= len(self.generation):
            size = max(max_row + 1, 2 * len(self.generation), 64)
            grown = np.full(size, -1, dtype=np.int64)
            grown[: len(self.generation)] = self.generation
            self.generation = grown

    def contains(self, rows: np.ndarray) -> np.ndarray:
        """Per row, whether the index currently holds it."""
        rows = np.asarray(rows, dtype=np.int64)
        inside = (rows >= 0) & (rows < len(self.generation))
        out = np.zeros(len(rows), dtype=bool)
        out[inside] = self.generation[rows[inside]] >= 0
        return out

    def require_present(self, rows: np.ndarray, what: str, rebuild_hint: str) -> None:
        """Refuse a delete naming rows the index does not hold (nothing is deleted)."""
        present = self.contains(rows)
        if not present.all():
            raise InputError(
                f"{what}: rows {np.asarray(rows)[~present][:10].tolist()} are not in the "
                "index; nothing was deleted. Check the ids (if the index is out of step "
                f"with its collection, rebuild it: {rebuild_hint})"
            )

    @property
    def live_rows(self) -> np.ndarray:
        """Rows the index currently holds, ascending."""
        return np.flatnonzero(self.generation >= 0)

    # -- updates ----------------------------------------------------------------------
    def add(
        self,
        docs: np.ndarray,
        *,
        rows: np.ndarray,
        terms: np.ndarray,
        values: np.ndarray,
        n_terms: int,
    ) -> None:
        """Add the documents `docs` (all absent) given as (row, term, value) triples."""
        if len(docs) == 0:
            return
        self._grow(int(docs.max()))
        segment = Segment.build(
            self.next_id, docs, rows=rows, terms=terms, values=values, n_terms=n_terms
        )
        self.next_id += 1
        self.segments.append(segment)
        self.generation[segment.doc_rows] = segment.id
        self._maybe_merge(n_terms)

    def remove(self, rows: np.ndarray) -> np.ndarray:
        """Tombstone `rows` (all must be present); returns the term ids they held."""
        removed: list[np.ndarray] = []
        gens = self.generation[rows]
        by_id = {s.id: s for s in self.segments}
        for seg_id in np.unique(gens):
            segment = by_id[int(seg_id)]
            mine = rows[gens == seg_id]
            at = np.searchsorted(segment.doc_rows, mine)
            starts, ends = segment.doc_indptr[at], segment.doc_indptr[at + 1]
            if len(mine):
                idx = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
                removed.append(segment.doc_terms[idx.astype(np.int64)].astype(np.int64))
            segment.dead += len(mine)
        self.generation[rows] = -1
        self.segments = [s for s in self.segments if s.dead < s.n_docs]
        self._compact_dead()
        return np.concatenate(removed) if removed else np.zeros(0, dtype=np.int64)

    def _merge(self, segments: list[Segment], n_terms: int) -> Segment:
        parts = [s.live_coo(self.generation) for s in segments]
        rows = np.concatenate([p[0] for p in parts])
        terms = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2] for p in parts])
        docs = np.concatenate([np.asarray(s.doc_rows) for s in segments])
        docs = docs[np.isin(self.generation[docs], [s.id for s in segments])]
        merged = Segment.build(
            self.next_id, docs, rows=rows, terms=terms, values=values, n_terms=n_terms
        )
        self.next_id += 1
        self.generation[merged.doc_rows] = merged.id
        return merged

    def _maybe_merge(self, n_terms: int) -> None:
        segs = self.segments
        while len(segs) >= 2 and (
            segs[-1].live_nnz * MERGE_RATIO >= segs[-2].live_nnz or len(segs) > MAX_SEGMENTS
        ):
            merged = self._merge(segs[-2:], n_terms)
            segs = [*segs[:-2], merged]
        self.segments = segs

    def _compact_dead(self) -> None:
        self.segments = [
            self._merge([s], s.n_terms) if s.dead > MAX_DEAD_FRACTION * s.n_docs else s
            for s in self.segments
        ]

    def compact(self, n_terms: int) -> None:
        """Merge everything into one segment and drop deleted postings."""
        if len(self.segments) > 1 or any(s.dead for s in self.segments):
            self.segments = [self._merge(self.segments, n_terms)]

    # -- queries ----------------------------------------------------------------------
    def postings(
        self, term_ids: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Live postings of the given terms as (rows, values, weight of the query term)."""
        rows, values, lengths = [], [], []
        for segment in self.segments:
            inside = term_ids < segment.n_terms
            ids = np.where(inside, term_ids, 0)
            starts = np.where(inside, segment.indptr[ids], 0).tolist()
            ends = np.where(inside, segment.indptr[ids + 1], 0).tolist()
            check = segment.dead > 0
            for start, end in zip(starts, ends, strict=True):
                r = segment.rows[start:end]
                v = segment.values[start:end]
                if check and end > start:
                    keep = self.generation[r] == segment.id
                    r, v = r[keep], v[keep]
                rows.append(r)
                values.append(v)
                lengths.append(len(r))
        if not rows:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty.astype(np.float32), empty
        qweights = np.repeat(np.tile(weights, len(self.segments)), lengths)
        return np.concatenate(rows), np.concatenate(values), qweights

    # -- persistence --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Segment list and id counter, saved in the index's JSON."""
        return {
            "next_id": self.next_id,
            "segments": [{"id": s.id, "name": s.name, "dead": s.dead} for s in self.segments],
        }

    def save(self, directory: Path) -> None:
        """Write segments and the generation array. Segment files are immutable, so one
        already saved in the previous folder is hard-linked, not rewritten: saving after
        a small update costs the new segment plus O(rows) for `generation`."""
        directory.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            for array in _SEGMENT_ARRAYS:
                name = f"{self.name}.{segment.name}.{array}.npy"
                path = directory / name
                if path.exists():
                    continue
                if self.origin is not None and self.origin != directory:
                    try:
                        os.link(self.origin / name, path)
                        continue
                    except OSError:
                        pass
                save_npy(path, np.asarray(getattr(segment, array)))
        save_npy(directory / f"{self.name}.generation.npy", self.generation)
        self.origin = directory

    def remove_stale_files(self, directory: Path) -> None:
        """Delete segment files in `directory` that the current state no longer lists."""
        keep = {s.name for s in self.segments}
        for path in directory.glob(f"{self.name}.seg*.npy"):
            if path.name.split(".")[1] not in keep:
                path.unlink(missing_ok=True)

    @classmethod
    def load(
        cls, directory: Path, name: str, state: dict[str, Any], fail: Callable
    ) -> PostingStore:
        """Read a saved store from its state and files, calling fail on anything missing."""
        store = cls(name)
        store.origin = directory
        store.next_id = int(state["next_id"])
        store.generation = load_npy(directory / f"{name}.generation.npy", fail, copy=True)
        for meta in state["segments"]:
            arrays = {
                a: load_npy(directory / f"{name}.{meta['name']}.{a}.npy", fail)
                for a in _SEGMENT_ARRAYS
            }
            segment = Segment(
                id=int(meta["id"]), name=meta["name"], dead=int(meta["dead"]), **arrays
            )
            where = directory / f"{name}.{meta['name']}.indptr.npy"
            if segment.indptr[-1] != len(segment.rows) or len(segment.rows) != len(segment.values):
                fail(where, "inconsistent (postings do not match their offsets)")
            if segment.doc_indptr[-1] != len(segment.doc_terms):
                fail(where, "inconsistent (document offsets do not match the terms)")
            if len(segment.doc_rows) and segment.doc_rows[-1] >= len(store.generation):
                fail(where, "inconsistent (rows beyond the generation array)")
            store.segments.append(segment)
        return store


def check_rows(rows: np.ndarray | list[int], what: str) -> np.ndarray:
    """Rows as an int64 array, checked: 1-d, in range, no repeats."""
    rows = np.asarray(rows)
    if rows.ndim != 1 or (len(rows) and not np.issubdtype(rows.dtype, np.integer)):
        raise InputError(f"{what}: rows must be a 1-d array of integer row ids")
    rows = rows.astype(np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= MAX_ROWS):
        raise InputError(f"{what}: row ids must be between 0 and {MAX_ROWS - 1}")
    if len(np.unique(rows)) != len(rows):
        raise InputError(f"{what}: the same row id appears twice in one call")
    return rows
