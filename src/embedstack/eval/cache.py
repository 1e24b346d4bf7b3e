"""Compatibility shim: evaluation's vector cache is now the encoder cache.

The `.npy`-shard store that lived here is `embedstack.encoders.cache.ShardVectorCache`,
one backend of the one `VectorCache` API; new code passes `cache=` to `load_encoder`
(or wraps an encoder in `CachedEncoder`). This module keeps the old `VectorCache.embed`
entry point working on top of that store until its last callers move, then goes away.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embedstack.encoders.base import Encoder, normalize_rows
from embedstack.encoders.cache import CachedEncoder, ShardVectorCache
from embedstack.encoders.cache import VectorCache as Store
from embedstack.types import Kind

Progress = Callable[[str, int, int], None]
"""`progress(task, done, total)`: called as work advances (the CLI draws a bar)."""

CHUNK = 256  # texts per encode call: small enough for a smooth progress bar


def text_digest(text: str) -> bytes:
    """sha256 of the UTF-8 text (the key the shard store uses, as bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class VectorCache:
    """`embed(encoder, texts, kind)` returns vectors, embedding only texts not seen before
    for this encoder; `hits` / `misses` count what the calls did."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.store = ShardVectorCache(directory)
        self.directory = self.store.path
        self.hits = 0
        self.misses = 0

    def embed(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Vectors for `texts` (normalised as the encoder's space says)."""
        kind = Kind.parse(kind)
        key = encoder.cache_key()
        store: Store = self.store
        if isinstance(encoder, CachedEncoder):  # already cached (hosted): one store only
            store, encoder = encoder.cache, encoder.encoder
        items = list(texts)
        found = store.get_many(key, kind, items)
        missing = list(dict.fromkeys(t for t, v in zip(items, found, strict=True) if v is None))
        self.hits += sum(v is not None for v in found)
        self.misses += len(missing)
        known = {t: v for t, v in zip(items, found, strict=True) if v is not None}
        for start in range(0, len(missing), CHUNK):
            part = missing[start : start + CHUNK]
            vectors = encoder.encode(part, kind, batch_size, normalize=False)
            store.put_many(key, kind, part, vectors)  # per chunk: a crash keeps its work
            known.update(zip(part, vectors, strict=True))
            if progress:
                task = "embedding queries" if kind is Kind.QUERY else "embedding documents"
                progress(task, start + len(part), len(missing))
        out = np.empty((len(items), encoder.dim), dtype=np.float32)
        for i, text in enumerate(items):
            out[i] = known[text]
        return normalize_rows(out) if encoder.space.normalize else out
