"""An HNSW graph (usearch) over a collection's vectors, stored at the chosen precision.

Keys are the collection's row ids, so add and delete touch only the changed rows (no
rebuild). The graph holds vectors as float32, float16, int8 or packed bits (Hamming);
its hits are candidates that store/vector_search.py rescores with full precision. The
graph file is sealed with a checksum: a truncated or altered file is refused on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require
from embedstack.errors import CollectionError
from embedstack.store.compress import binarize
from embedstack.store.sealed import seal, verify
from embedstack.store.vecindex import VectorIndexBase, rebuild_hint

GRAPH = "graph.usearch"
SCALE = "int8-scale.npy"
_DTYPES = {"float32": "f32", "float16": "f16", "int8": "i8", "binary": "b1"}
_METRICS = {"dot": "ip", "euclidean": "l2sq"}


def _usearch() -> Any:
    return require("usearch.index", "apps", "the HNSW index")


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
        self._graph: Any = None

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
        return 0 if self._graph is None else len(self._graph)

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

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Insert rows into the graph (keys are row ids)."""
        if len(rows):
            codes = self._encode(vectors)
            if self._graph is None:
                ndim = codes.shape[1] * (8 if self.settings.storage == "binary" else 1)
                self._graph = self._new_graph(ndim)
            self._graph.add(np.asarray(rows, dtype=np.uint64), codes, threads=self.threads)
        super().add(rows, vectors)

    def delete(self, rows: np.ndarray) -> None:
        """Remove rows from the graph (no rebuild)."""
        if self._graph is not None and len(rows):
            present = [int(r) for r in rows if int(r) in self._graph]
            if present:
                self._graph.remove(np.asarray(present, dtype=np.uint64))
        super().delete(rows)

    def candidates(
        self, query: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` rows from the graph; with `allowed`, only those rows: the graph
        is asked for more until `count` allowed rows came back or it is exhausted."""
        total = len(self)
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        code = self._encode(query[None, :])[0]
        share = 1.0 if allowed is None else max(len(allowed) / total, 1e-6)
        ask = min(total, int(np.ceil(count / share * 1.5)))
        while True:
            found = self._graph.search(code, ask, threads=1)  # one query: no thread pool
            rows = np.asarray(found.keys, dtype=np.int64)
            distances = np.asarray(found.distances, dtype=np.float32)
            if allowed is not None:
                keep = np.isin(rows, allowed)
                rows, distances = rows[keep], distances[keep]
            if len(rows) >= count or ask >= total:
                return rows[:count], self._scores(distances[:count])
            ask = min(total, ask * 4)

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
        """Write the graph and seal the folder with checksums."""
        if self._graph is not None:
            self._graph.save(str(directory / GRAPH))
        if self.scale is not None:
            np.save(directory / SCALE, np.float64(self.scale))
        self._save_rescore(directory)
        seal(directory, self.name)

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any]) -> HnswIndex:
        """Verify the seal, then restore the graph."""
        verify(directory, cls.name, rebuild_hint(directory, cls.name))
        index = cls(**config)
        if (directory / GRAPH).exists():
            try:
                index._graph = _usearch().Index.restore(str(directory / GRAPH))
            except (RuntimeError, ValueError) as exc:
                raise CollectionError(
                    f"the hnsw index in {directory} is unreadable ({exc}). Rebuild it: "
                    + rebuild_hint(directory, cls.name)
                ) from exc
            index._graph.expansion_search = index.expansion_search
        if (directory / SCALE).exists():
            index.scale = float(np.load(directory / SCALE))
        index._load_rescore(directory)
        return index
