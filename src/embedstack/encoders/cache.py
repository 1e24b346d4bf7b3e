"""A persistent embedding cache, so a re-run costs nothing and an interrupted corpus resumes.

Vectors live in one SQLite file (WAL mode, one transaction per write) keyed by
(`EmbeddingSpace.key()`, kind, sha256 of the text). They are stored as raw float32 blobs
exactly as the encoder returned them, before normalisation, so one cached vector serves
both `normalize=True` and `normalize=False` callers.

`CachedEncoder` wraps any `Encoder` and embeds only the misses. It writes each finished
batch as soon as it arrives, so work survives a crash, a Ctrl-C or a quota error halfway.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from embedstack.config import cache_dir
from embedstack.encoders.base import Encoder, check_texts, normalize_rows
from embedstack.errors import EmbedstackError, InputError
from embedstack.types import Kind

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_MIGRATIONS = {
    1: """
    CREATE TABLE IF NOT EXISTS embeddings (
        space   TEXT    NOT NULL,
        kind    TEXT    NOT NULL,
        hash    TEXT    NOT NULL,
        dim     INTEGER NOT NULL,
        vector  BLOB    NOT NULL,
        created REAL    NOT NULL,
        PRIMARY KEY (space, kind, hash)
    ) WITHOUT ROWID;
    """,
}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses since this cache object was opened, plus what the file holds."""

    hits: int
    misses: int
    writes: int
    entries: int
    path: str

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "entries": self.entries,
            "hit_rate": round(self.hit_rate, 4),
            "path": self.path,
        }


class EmbeddingCache:
    """SQLite store of vectors, fronted by an in-memory LRU of the `memory_items` most
    recently used ones (repeated queries never touch the disk). Safe to share between
    threads and between processes."""

    def __init__(self, path: str | Path | None = None, memory_items: int = 4096) -> None:
        self.path = Path(path).expanduser() if path else cache_dir("embeddings") / "cache.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._memory: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._memory_items = max(0, memory_items)
        self._hits = self._misses = self._writes = 0
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise EmbedstackError(
                f"cannot open the embedding cache {self.path}: {exc}. Delete the file to start "
                "a fresh cache, or pass another path."
            ) from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise EmbedstackError(
                f"the embedding cache {self.path} was written by a newer embedstack "
                f"(schema {version} > {SCHEMA_VERSION}); upgrade embedstack or use another path"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self._db:
                self._db.executescript(_MIGRATIONS[step])
                self._db.execute(f"PRAGMA user_version={step}")

    def get_many(
        self, space_key: str, kind: Kind | str, texts: Sequence[str]
    ) -> list[np.ndarray | None]:
        """Cached vectors in input order; `None` where a text has not been embedded yet."""
        kind = Kind.parse(kind).value
        hashes = [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for digest in hashes:
                vector = self._memory.get((space_key, kind, digest))
                if vector is not None:
                    self._memory.move_to_end((space_key, kind, digest))
                    found[digest] = vector
            unique = [h for h in dict.fromkeys(hashes) if h not in found]
            for start in range(0, len(unique), 500):  # stay under SQLite's variable limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT hash, dim, vector FROM embeddings "
                    f"WHERE space=? AND kind=? AND hash IN ({marks})",
                    (space_key, kind, *chunk),
                ).fetchall()
                for digest, dim, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32) if len(blob) == 4 * dim else None
                    if vector is None or not np.isfinite(vector).all():
                        log.warning("ignoring a corrupt cache entry %s (will re-embed)", digest)
                        continue
                    found[digest] = vector
                    self._remember((space_key, kind, digest), vector)
            out = [found.get(h) for h in hashes]
            hits = sum(v is not None for v in out)
            self._hits += hits
            self._misses += len(out) - hits
        return out

    def put_many(
        self,
        space_key: str,
        kind: Kind | str,
        texts: Sequence[str],
        vectors: np.ndarray,
    ) -> None:
        """Store vectors for texts in one transaction: all of them or none."""
        kind = Kind.parse(kind).value
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InputError(
                f"put_many got {len(texts)} texts but vectors of shape {vectors.shape}"
            )
        if not np.isfinite(vectors).all():
            raise InputError("refusing to cache NaN or infinite vectors")
        now = time.time()
        rows = [
            (space_key, kind, text_hash(t), vectors.shape[1], vectors[i].tobytes(), now)
            for i, t in enumerate(texts)
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows
            )
            self._writes += len(rows)
            for space, kind_, digest, _, blob, _ in rows:
                self._remember((space, kind_, digest), np.frombuffer(blob, dtype=np.float32))

    def _remember(self, key: tuple[str, str, str], vector: np.ndarray) -> None:
        if self._memory_items:
            self._memory[key] = vector
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def stats(self) -> CacheStats:
        with self._lock:
            entries = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return CacheStats(self._hits, self._misses, self._writes, entries, str(self.path))

    def clear(self, space_key: str | None = None) -> int:
        """Delete every entry (or one space's); returns how many were removed."""
        with self._lock, self._db:
            self._memory.clear()
            if space_key is None:
                cur = self._db.execute("DELETE FROM embeddings")
            else:
                cur = self._db.execute("DELETE FROM embeddings WHERE space=?", (space_key,))
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class StreamingEncoder(Protocol):
    """An encoder that reports each finished batch (hosted encoders do), so the cache can
    store work while the rest of the corpus is still in flight."""

    def iter_encode(
        self, texts: Sequence[str], kind: Kind, batch_size: int | None = None
    ) -> Iterator[tuple[list[int], np.ndarray]]: ...


class CachedEncoder(Encoder):
    """Wraps `encoder`; only texts missing from `cache` are sent to it.

    Args:
        encoder: any `Encoder`; its `space` is this encoder's space.
        cache: the store (default: the shared cache in the user cache dir).
        chunk_size: for encoders that do not stream batches, how many misses to embed
            between two cache writes (the most work an interruption can lose).
    """

    def __init__(
        self, encoder: Encoder, cache: EmbeddingCache | None = None, chunk_size: int = 256
    ) -> None:
        if chunk_size <= 0:
            raise InputError(f"chunk_size must be positive, got {chunk_size}")
        self.encoder = encoder
        self.cache = cache if cache is not None else EmbeddingCache()
        self.chunk_size = chunk_size
        self.space = encoder.space
        self.default_batch_size = encoder.default_batch_size

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r}, cache={str(self.cache.path)!r})"

    def __getattr__(self, name: str) -> Any:
        # usage, cost and other extras of the wrapped encoder stay reachable
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)

    def _encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self.encoder._encode_batch(texts, kind)

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        return self.encoder.count_tokens(texts)

    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
    ) -> np.ndarray:
        """Like `Encoder.encode`; cached texts cost nothing, misses are stored batch by batch."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        missing = self._fill_hits(items, kind, out)
        if missing:
            unique = list(dict.fromkeys(items[i] for i in missing))
            for texts_done, vectors in self._embed(unique, kind, batch_size):
                self._store(items, missing, kind, texts_done, vectors, out=out)
        return self._finish(out, normalize)

    async def aencode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, normalize: bool | None = None
    ) -> np.ndarray:
        """Async variant for encoders that have `aiter_encode` (hosted ones)."""
        aiter_encode = getattr(self.encoder, "aiter_encode", None)
        if aiter_encode is None:
            raise InputError(f"{type(self.encoder).__name__} has no async API; use encode()")
        items = check_texts(texts)
        kind = Kind.parse(kind)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        missing = self._fill_hits(items, kind, out)
        if missing:
            unique = list(dict.fromkeys(items[i] for i in missing))
            async for idx, vectors in aiter_encode(unique, kind):
                self._store(items, missing, kind, [unique[j] for j in idx], vectors, out=out)
        return self._finish(out, normalize)

    def _store(
        self,
        items: list[str],
        missing: list[int],
        kind: Kind,
        done: list[str],
        vectors: np.ndarray,
        *,
        out: np.ndarray,
    ) -> None:
        """Cache one finished batch at once (so an interruption loses nothing done) and
        copy its vectors into every position that asked for those texts."""
        self.cache.put_many(self.space.key(), kind, done, vectors)
        where = {t: vectors[j] for j, t in enumerate(done)}
        for i in missing:
            if items[i] in where:
                out[i] = where[items[i]]

    def _finish(self, out: np.ndarray, normalize: bool | None) -> np.ndarray:
        if normalize if normalize is not None else self.space.normalize:
            return normalize_rows(out)
        return out

    def _fill_hits(self, items: list[str], kind: Kind, out: np.ndarray) -> list[int]:
        cached = self.cache.get_many(self.space.key(), kind, items)
        missing = []
        for i, vector in enumerate(cached):
            if vector is not None and vector.shape == (self.dim,):
                out[i] = vector
            else:
                missing.append(i)
        if items:
            log.debug("cache: %d hits, %d misses", len(items) - len(missing), len(missing))
        return missing

    def _embed(
        self, texts: list[str], kind: Kind, batch_size: int | None
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        if isinstance(self.encoder, StreamingEncoder):
            for idx, vectors in self.encoder.iter_encode(texts, kind, batch_size):
                yield [texts[j] for j in idx], vectors
            return
        for start in range(0, len(texts), self.chunk_size):
            chunk = texts[start : start + self.chunk_size]
            yield chunk, self.encoder.encode(chunk, kind, batch_size=batch_size, normalize=False)
