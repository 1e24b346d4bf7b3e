"""An HNSW graph (usearch) over a collection's vectors, stored at the chosen precision.

Keys are the collection's row ids, so add and delete touch only the changed rows (no
rebuild). The graph holds vectors as float32, float16, int8 or packed bits (Hamming);
its hits are candidates that store/vector_search.py rescores with full precision.

Saving is incremental. The index is a large *base* graph plus a small *delta* graph of
the rows added since the base was saved, and a list of base rows deleted since then
(tombstones). A small commit writes the delta and the tombstones; the unchanged base
file is hard-linked into the new folder, not rewritten. When the delta passes a quarter
of the base it is folded into the base (rewritten once), so small commits cost
O(rows changed) amortised; a bulk batch (5% of the base or more) goes into the base
directly, since inserting it costs more than rewriting the file. A loaded base is a
read-only usearch "view" of the file's bytes: read into RAM on huge pages when it fits
(store/resident.py: the walk misses the TLB far less), memory-mapped when it does not.
Every file is sealed with a checksum (store/sealed.py): damage is refused on load.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require_usearch
from embedstack.errors import CollectionError
from embedstack.store.compress import binarize
from embedstack.store.resident import read_resident
from embedstack.store.sealed import seal, sealed_entry, verify
from embedstack.store.vecindex import VectorIndexBase, members, rebuild_hint

GRAPH = "graph.usearch"
DELTA = "delta.usearch"
REMOVED = "removed.npy"
SCALE = "int8-scale.npy"
MERGE_SHARE = 0.25  # the delta (or the tombstones) is folded into the base past this share
DIRECT_SHARE = 0.05  # a batch this large (vs the base) goes straight into the base
FORMAT = 2  # base + delta + tombstones; embedstack versions before it read only a base
_DTYPES = {"float32": "f32", "float16": "f16", "int8": "i8", "binary": "b1"}
_METRICS = {"dot": "ip", "euclidean": "l2sq"}
_EMPTY = np.zeros(0, np.int64)


def _usearch() -> Any:
    return require_usearch("the HNSW index")


def _size(graph: Any) -> int:
    return 0 if graph is None else len(graph)


class HnswIndex(VectorIndexBase):
    """`connectivity` (M), `expansion_add` (ef_construction) and `expansion_search`
    (ef_search) are usearch's HNSW knobs; below `exact_below` live rows the collection
    scans exactly instead (as fast, and exact). `threads` builds with that many threads
    (0: all; 1: the same graph on every run, for reproducible results)."""

    name = "hnsw"

    def __init__(
        self,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 64,
        exact_below: int = 10_000,
        threads: int = 0,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self.connectivity = int(connectivity)
        self.expansion_add = int(expansion_add)
        self.expansion_search = int(expansion_search)
        self.exact_below = int(exact_below)
        self.threads = int(threads)  # 0: all cores; 1 builds the same graph every time
        self.scale: float | None = None  # int8 graph of dot/euclidean: 1 / max |value|
        self._graph: Any = None  # the base graph: in RAM, or a read-only view of its file
        self._viewed = False  # whether _graph views a saved file's bytes (read-only)
        self._delta: Any = None  # rows added since the base was saved (in RAM)
        self._removed = _EMPTY  # base rows deleted since the base was saved (sorted)
        self._base_file: Path | None = None  # where the unchanged base is saved
        self._base_seal: dict[str, int] | None = None  # its size and CRC there

    def config(self) -> dict[str, Any]:
        """Settings plus the HNSW knobs, as saved in the manifest."""
        return {
            **super().config(),
            "connectivity": self.connectivity,
            "expansion_add": self.expansion_add,
            "expansion_search": self.expansion_search,
            "exact_below": self.exact_below,
            "threads": self.threads,
        }

    def __len__(self) -> int:
        return _size(self._graph) + _size(self._delta) - len(self._removed)

    def _new_graph(self, ndim: int) -> Any:
        binary = self.settings.storage == "binary"
        return _usearch().Index(
            ndim=ndim,
            metric="hamming" if binary else _METRICS.get(self.settings.code_metric, "cos"),
            dtype=_DTYPES[self.settings.storage],
            connectivity=self.connectivity,
            expansion_add=self.expansion_add,
            expansion_search=self.expansion_search,
        )

    def _encode(self, vectors: np.ndarray) -> np.ndarray:
        prepared = self.prepare(vectors)
        storage = self.settings.storage
        if storage == "binary":
            return binarize(prepared)
        if storage == "int8" and self.settings.metric != "cosine":
            # usearch maps floats to int8 by x * 127: scale dot/euclidean data into [-1, 1].
            if self.scale is None:
                peak = float(np.abs(prepared).max()) if prepared.size else 1.0
                self.scale = 1.0 / peak if peak > 0 else 1.0
            return np.clip(prepared * self.scale, -1.0, 1.0)
        return prepared

    def _ndim(self, codes: np.ndarray) -> int:
        return int(codes.shape[1]) * (8 if self.settings.storage == "binary" else 1)

    def _mutable_base(self, ndim: int) -> Any:
        """The base graph, ready to change: a memory map is copied into RAM first (usearch
        views are read-only), and the saved file no longer describes it."""
        if self._graph is None:
            self._graph = self._new_graph(ndim)
        elif self._viewed:
            self._graph = self._graph.copy()
            self._graph.expansion_search = self.expansion_search
            self._viewed = False
        self._base_file, self._base_seal = None, None
        return self._graph

    def _fold(self, ndim: int) -> Any:
        """Fold the delta graph and the tombstones into the base (which is then rewritten
        on the next save)."""
        graph = self._mutable_base(ndim)
        if len(self._removed):
            graph.remove(self._removed.astype(np.uint64))
            self._removed = _EMPTY
        if _size(self._delta):
            keys = np.asarray(self._delta.keys, dtype=np.uint64)
            graph.add(keys, np.vstack(self._delta.get(keys)), threads=self.threads)
        self._delta = None
        return graph

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Insert rows: a small batch into the delta graph while that stays small next
        to the base; a large batch (a bulk load) into the base, after folding the delta
        in: graph insertions cost far more than rewriting the file, so no row is
        inserted twice except the few a fold moves."""
        if len(rows):
            codes = self._encode(vectors)
            keys = np.asarray(rows, dtype=np.uint64)
            base = _size(self._graph) - len(self._removed)
            large = len(rows) >= DIRECT_SHARE * base  # inserting it costs more than a rewrite
            if base <= 0 or large or _size(self._delta) + len(rows) > MERGE_SHARE * base:
                self._fold(self._ndim(codes)).add(keys, codes, threads=self.threads)
            else:
                if self._delta is None:
                    self._delta = self._new_graph(self._ndim(codes))
                self._delta.add(keys, codes, threads=self.threads)
        super().add(rows, vectors)

    def delete(self, rows: np.ndarray) -> None:
        """Remove rows (no rebuild): from the delta graph, or as tombstones of the saved
        base (a base already changed since its save loses them at once)."""
        keys = np.asarray(rows, dtype=np.uint64)
        if len(keys) and _size(self._delta):
            present = keys[np.asarray(self._delta.contains(keys), dtype=bool)]
            if len(present):
                self._delta.remove(present)
        if len(keys) and _size(self._graph):
            present = keys[np.asarray(self._graph.contains(keys), dtype=bool)]
            if len(present) and self._base_file is None and not self._viewed:
                self._graph.remove(present)
            elif len(present):
                self._removed = np.union1d(self._removed, present.astype(np.int64))
                if len(self._removed) > MERGE_SHARE * len(self._graph):
                    self._fold(int(self._graph.ndim))
        super().delete(rows)

    def _walk(
        self, codes: np.ndarray, ask: int, threads: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, the `ask` nearest (rows, scores) of base and delta together,
        tombstones left out, best first. Scores are computed once per graph, for every
        query at once: after a walk each numpy call runs on cold caches."""
        parts = []
        for graph, hidden in ((self._graph, len(self._removed)), (self._delta, 0)):
            if _size(graph):
                found = graph.search(codes, min(ask + hidden, len(graph)), threads=threads)
                keys = np.asarray(found.keys, dtype=np.int64).reshape(len(codes), -1)
                dist = np.asarray(found.distances, dtype=np.float32).reshape(len(codes), -1)
                counts = getattr(found, "counts", None)
                counts = (
                    [keys.shape[1]] * len(codes) if counts is None else np.asarray(counts).tolist()
                )
                parts.append((keys, self._scores(dist), counts))
        out: list[tuple[np.ndarray, np.ndarray]] = []
        if len(parts) == 1 and not len(self._removed):  # one graph, nothing hidden
            keys, values, counts = parts[0]
            return [(keys[i, :n], values[i, :n]) for i, n in enumerate(counts)]
        for i in range(len(codes)):
            rows = np.concatenate([keys[i, : counts[i]] for keys, _, counts in parts])
            values = np.concatenate([v[i, : counts[i]] for _, v, counts in parts])
            if len(self._removed):
                keep = ~members(rows, self._removed)
                rows, values = rows[keep], values[keep]
            if len(parts) > 1:
                order = np.argsort(-values, kind="stable")[:ask]
                rows, values = rows[order], values[order]
            out.append((rows, values))
        return out

    def candidates(
        self, query: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` rows from the graph (see `candidates_many`)."""
        return self.candidates_many(query[None, :], count, allowed)[0]

    def candidates_many(
        self, queries: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Up to `count` rows per query; without a filter all queries walk the graph in
        one call (on every core when there are several). With `allowed`, only those
        rows: the graph is asked for more until `count` allowed rows came back."""
        total = len(self)
        if total == 0:
            return [(_EMPTY, np.zeros(0, np.float32)) for _ in queries]
        codes = self._encode(queries)
        threads = 1 if len(queries) == 1 else 0  # one query: no thread pool
        if allowed is None:
            return self._walk(codes, min(count, total), threads)
        share = max(len(allowed) / total, 1e-6)
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for code in codes:
            ask = min(total, int(np.ceil(count / share * 1.5)))
            while True:
                rows, values = self._walk(code[None, :], ask, 1)[0]
                keep = members(rows, allowed)
                rows, values = rows[keep], values[keep]
                if len(rows) >= count or ask >= total:
                    out.append((rows[:count], values[:count]))
                    break
                ask = min(total, ask * 4)
        return out

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        """usearch distances as larger-is-better scores."""
        if self.settings.storage == "binary":
            return -distances
        if self.settings.code_metric == "euclidean":
            return -np.sqrt(np.maximum(distances, 0.0))
        return 1.0 - distances

    def _own_bytes(self) -> float:
        """The vector at its storage precision plus the base-layer links (2 M u32 slots)
        and the key: usearch's own `memory_usage` also counts reserved capacity."""
        if self._graph is None:
            return 0.0
        width = {"float32": 4.0, "float16": 2.0, "int8": 1.0, "binary": 0.125}
        return self._graph.ndim * width[self.settings.storage] + 2 * self.connectivity * 4 + 8

    def save(self, directory: Path) -> None:
        """Write the delta and tombstones; the base only if it changed since its last
        save (else hard-link that file), then seal the folder with checksums."""
        known: dict[str, dict[str, int]] = {}
        if self._graph is not None:
            target = directory / GRAPH
            if self._base_file is not None and self._base_seal and self._base_file.exists():
                try:
                    os.link(self._base_file, target)  # the same bytes: share, not rewrite
                except OSError:  # no hard links on this file system
                    shutil.copyfile(self._base_file, target)
                known[GRAPH] = self._base_seal
            else:
                self._graph.save(str(target))
            self._base_file = target
        if _size(self._delta):
            self._delta.save(str(directory / DELTA))
        if len(self._removed):
            np.save(directory / REMOVED, self._removed, allow_pickle=False)
        if self.scale is not None:
            np.save(directory / SCALE, np.float64(self.scale))
        self._save_rescore(directory)
        seal(directory, self.name, known=known, format=FORMAT)
        self._base_seal = sealed_entry(directory, GRAPH)

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any]) -> HnswIndex:
        """Verify the seal, then view the base graph (in RAM on huge pages when it fits,
        else memory-mapped) and read the delta."""
        verify(directory, cls.name, rebuild_hint(directory, cls.name), newest=FORMAT)
        index = cls(**config)
        if (directory / GRAPH).exists():
            index._graph = index._restore(directory / GRAPH, view=True)
            index._viewed = True
            index._base_file = directory / GRAPH
            index._base_seal = sealed_entry(directory, GRAPH)
        if (directory / DELTA).exists():
            index._delta = index._restore(directory / DELTA, view=False)
        if (directory / REMOVED).exists():
            index._removed = np.load(directory / REMOVED, allow_pickle=False).astype(np.int64)
        if (directory / SCALE).exists():
            index.scale = float(np.load(directory / SCALE))
        index._load_rescore(directory)
        return index

    def _restore(self, path: Path, view: bool) -> Any:
        """The graph saved at `path`: a view of its bytes (read-only), or a copy in RAM."""
        memory = read_resident(path) if view else None
        try:
            graph = _usearch().Index.restore(str(path) if memory is None else memory, view=view)
        except (RuntimeError, ValueError) as exc:
            graph, problem = None, str(exc)
        else:
            problem = "not a usearch index"
        if graph is None:
            raise CollectionError(
                f"the hnsw index file {path} is unreadable ({problem}). Rebuild it: "
                + rebuild_hint(path.parent, self.name)
            )
        graph.resident_bytes = memory  # usearch keeps no reference: the view lives with it
        graph.expansion_search = self.expansion_search
        return graph
