"""`CachedEncoder`: any encoder behind a `VectorCache`, so a re-run costs nothing and an
interrupted corpus resumes where it stopped.

Only texts missing from the cache reach the wrapped encoder, each distinct text once.
Finished work is written as it completes: per request for encoders whose batches are
expensive (`Encoder.cache_each_batch`, hosted APIs), else per `chunk_size` texts. It
overrides `iter_encode` only; `encode` and its checks come from `Encoder`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Batches, Encoder, check_batch_size, check_texts
from embedstack.encoders.cache.shards import ShardVectorCache
from embedstack.encoders.cache.sqlite import SqliteVectorCache
from embedstack.encoders.cache.store import VectorCache
from embedstack.errors import InputError
from embedstack.text.tokenize import Tokenizer
from embedstack.types import Kind

log = logging.getLogger(__name__)

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def open_cache(target: bool | str | Path | VectorCache | None = True) -> VectorCache:
    """The cache `target` names: a `VectorCache` as is; True/None the shared SQLite cache;
    a `.sqlite`/`.db` (or other existing) file a SQLite cache; a folder (existing, or a
    new path without a suffix) a `.npy` shard cache."""
    if isinstance(target, VectorCache):
        return target
    if target is True or target is None:
        return SqliteVectorCache()
    if target is False:
        raise InputError("cache=False means no cache; do not open one")
    path = Path(target).expanduser()
    if path.is_dir() or (not path.exists() and not path.suffix):
        return ShardVectorCache(path)
    return SqliteVectorCache(path)


def default_caches() -> list[VectorCache]:
    """Both default stores (what `embedstack cache stats/clear` covers)."""
    return [SqliteVectorCache(), ShardVectorCache()]


class CachedEncoder(Encoder):
    """Wraps `encoder`; only texts missing from `cache` are sent to it.

    Args:
        encoder: any `Encoder`; its `space` is this encoder's space. A `CachedEncoder`
            is unwrapped first: a vector is never stored in two caches.
        cache: the store (default: the shared SQLite cache in the user cache dir).
        chunk_size: for encoders whose batches are cheap, how many misses to embed
            between two cache writes (the most work an interruption can lose).
    """

    encoder: Encoder

    def __init__(
        self, encoder: Encoder, cache: VectorCache | None = None, chunk_size: int = 256
    ) -> None:
        if chunk_size <= 0:
            raise InputError(f"chunk_size must be positive, got {chunk_size}")
        if isinstance(encoder, CachedEncoder):
            encoder = encoder.encoder
        self.encoder = encoder
        self.cache = cache if cache is not None else SqliteVectorCache()
        self.chunk_size = chunk_size
        self.space = encoder.space
        self.default_batch_size = encoder.default_batch_size
        self.zero_vector_reason = encoder.zero_vector_reason

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r}, cache={self.cache!r})"

    def __getattr__(self, name: str) -> Any:
        # usage, cost and other extras of the wrapped encoder stay reachable
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """One uncached batch straight from the wrapped encoder."""
        return self.encoder.encode_batch(texts, kind)

    def cache_key(self) -> str:
        """The wrapped encoder's key (its space, plus e.g. a hosted endpoint)."""
        return self.encoder.cache_key()

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """The wrapped encoder's token counts."""
        return self.encoder.count_tokens(texts)

    def span_tokenizer(self) -> Tokenizer:
        """The wrapped encoder's tokenizer."""
        return self.encoder.span_tokenizer()

    def special_tokens(self) -> int:
        """The wrapped encoder's special tokens per text."""
        return self.encoder.special_tokens()

    def iter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> Batches:
        """Cached vectors first, then each finished batch of misses, stored before it is
        yielded (so whatever was yielded survives a crash)."""
        kind, hit_idx, hit_rows, todo = self._split(texts, kind, batch_size)
        if hit_idx:
            yield hit_idx, hit_rows
        if not todo:
            return
        unique = list(todo)
        if getattr(self.encoder, "cache_each_batch", False):
            for idx, vectors in self.encoder.iter_encode(unique, kind, batch_size):
                yield self._store(kind, [unique[j] for j in idx], vectors, todo)
            return
        for start in range(0, len(unique), self.chunk_size):
            chunk = unique[start : start + self.chunk_size]
            out = np.empty((len(chunk), self.dim), dtype=np.float32)
            for idx, vectors in self.encoder.iter_encode(chunk, kind, batch_size):
                out[idx] = self.checked(vectors, len(idx))
            yield self._store(kind, chunk, out, todo)

    async def aiter_encode(
        self, texts: Sequence[str], kind: Kind | str = Kind.DOCUMENT, batch_size: int | None = None
    ) -> AsyncIterator[tuple[list[int], np.ndarray]]:
        """Async `iter_encode`: misses go through the wrapped encoder's `aiter_encode`."""
        kind, hit_idx, hit_rows, todo = self._split(texts, kind, batch_size)
        if hit_idx:
            yield hit_idx, hit_rows
        unique = list(todo)
        if unique:
            async for idx, vectors in self.encoder.aiter_encode(unique, kind, batch_size):
                yield self._store(kind, [unique[j] for j in idx], vectors, todo)

    def _split(
        self, texts: Sequence[str], kind: Kind | str, batch_size: int | None
    ) -> tuple[Kind, list[int], np.ndarray, dict[str, list[int]]]:
        """(kind, positions found, their vectors, missing text -> its positions)."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        check_batch_size(batch_size, self.default_batch_size)
        cached = self.cache.get_many(self.cache_key(), kind, items)
        hit_idx: list[int] = []
        todo: dict[str, list[int]] = {}
        for i, vector in enumerate(cached):
            if vector is not None and vector.shape == (self.dim,):
                hit_idx.append(i)
            else:
                todo.setdefault(items[i], []).append(i)
        rows = [v for v in (cached[i] for i in hit_idx) if v is not None]
        hit_rows = np.stack(rows) if rows else np.empty((0, self.dim), np.float32)
        if items:
            log.debug("cache: %d hits, %d misses", len(hit_idx), len(items) - len(hit_idx))
        return kind, hit_idx, hit_rows, todo

    def _store(
        self, kind: Kind, done: list[str], vectors: np.ndarray, todo: dict[str, list[int]]
    ) -> tuple[list[int], np.ndarray]:
        """Cache one finished batch, then map it onto every position that asked for it."""
        vectors = self.checked(vectors, len(done))
        self.cache.put_many(self.cache_key(), kind, done, vectors)
        positions = [p for text in done for p in todo[text]]
        rows = [j for j, text in enumerate(done) for _ in todo[text]]
        return positions, vectors[rows]
