"""The one `VectorCache` API: vectors keyed by (encoder cache key, kind, text hash).

Two backends implement it: `SqliteVectorCache` (one SQLite file; many small writes from
many threads or processes, random access: the default) and `ShardVectorCache` (a folder
of `.npy` shards numpy can inspect and memory-map: bulk corpora). This base owns what
they share: input checks, the in-memory LRU of recent vectors, and hit/miss counting.

Vectors are stored exactly as the encoder returned them, before normalisation, so one
cached vector serves both `normalize=True` and `normalize=False` callers.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.types import Kind


def text_hash(text: str) -> str:
    """sha256 of the UTF-8 text, as hex: the per-text part of every cache key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses since this cache object was opened, plus what the store holds."""

    hits: int
    misses: int
    writes: int
    entries: int
    path: str
    backend: str = "sqlite"

    @property
    def hit_rate(self) -> float:
        """Share of looked-up texts that were found."""
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (the `embedstack cache stats --json` shape)."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "entries": self.entries,
            "hit_rate": round(self.hit_rate, 4),
            "path": self.path,
            "backend": self.backend,
        }


Key = tuple[str, str, str]


class VectorCache(ABC):
    """A persistent store of raw vectors, fronted by an LRU of the `memory_items` most
    recently used ones (repeated queries never touch the disk). Thread-safe."""

    backend: str = ""
    path: Path

    def __init__(self, memory_items: int = 4096) -> None:
        self._lock = threading.RLock()
        self._memory: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._memory_items = max(0, memory_items)
        self._hits = self._misses = self._writes = 0

    # -- what a backend implements ------------------------------------------------------
    @abstractmethod
    def _lookup(self, key: str, kind: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors for these (unique) hashes; unreadable entries are left out."""

    @abstractmethod
    def _store(self, key: str, kind: str, hashes: list[str], vectors: np.ndarray) -> None:
        """Persist all rows at once (a crash keeps all of them or none)."""

    @abstractmethod
    def _count(self) -> int:
        """Entries stored."""

    @abstractmethod
    def _clear(self, key: str | None) -> int:
        """Delete everything (or one key's vectors); how many entries went."""

    def close(self) -> None:
        """Release files and connections (the cache is unusable afterwards)."""
        with self._lock:
            self._memory.clear()

    # -- the API -----------------------------------------------------------------------
    def get_many(self, key: str, kind: Kind | str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Cached vectors in input order; `None` where a text has not been embedded yet."""
        kind = Kind.parse(kind).value
        hashes = [text_hash(t) for t in texts]
        with self._lock:
            found: dict[str, np.ndarray] = {}
            for digest in hashes:
                vector = self._memory.get((key, kind, digest))
                if vector is not None:
                    self._memory.move_to_end((key, kind, digest))
                    found[digest] = vector
            unique = [h for h in dict.fromkeys(hashes) if h not in found]
            if unique:
                stored = self._lookup(key, kind, unique)
                for digest, vector in stored.items():
                    found[digest] = vector
                    self._remember((key, kind, digest), vector)
            out = [found.get(h) for h in hashes]
            hits = sum(v is not None for v in out)
            self._hits += hits
            self._misses += len(out) - hits
        return out

    def put_many(
        self, key: str, kind: Kind | str, texts: Sequence[str], vectors: np.ndarray
    ) -> None:
        """Store vectors for texts in one atomic write: all of them or none."""
        kind = Kind.parse(kind).value
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InputError(
                f"put_many got {len(texts)} texts but vectors of shape {vectors.shape}"
            )
        if not np.isfinite(vectors).all():
            raise InputError("refusing to cache NaN or infinite vectors")
        if not len(texts):
            return
        unique = dict(zip((text_hash(t) for t in texts), range(len(texts)), strict=True))
        hashes, rows = list(unique), list(unique.values())
        with self._lock:
            self._store(key, kind, hashes, vectors[rows])
            self._writes += len(hashes)
            for digest, row in zip(hashes, rows, strict=True):
                self._remember((key, kind, digest), vectors[row].copy())

    def stats(self) -> CacheStats:
        """Counters since opening, plus the entries the store holds now."""
        with self._lock:
            return CacheStats(
                self._hits, self._misses, self._writes, self._count(), str(self.path), self.backend
            )

    def clear(self, key: str | None = None) -> int:
        """Delete every entry (or one encoder's); returns how many were removed."""
        with self._lock:
            self._memory.clear()
            return self._clear(key)

    def _remember(self, key: Key, vector: np.ndarray) -> None:
        if self._memory_items:
            self._memory[key] = vector
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def __enter__(self) -> VectorCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
