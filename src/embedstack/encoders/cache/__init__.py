"""One persistent vector cache: the `VectorCache` API, its SQLite and `.npy`-shard
backends, and `CachedEncoder`, which puts any encoder behind one of them."""

from __future__ import annotations

from embedstack.encoders.cache.encoder import CachedEncoder, default_caches, open_cache
from embedstack.encoders.cache.shards import ShardVectorCache, default_shard_dir
from embedstack.encoders.cache.sqlite import EmbeddingCache, SqliteVectorCache, default_sqlite_path
from embedstack.encoders.cache.store import CacheStats, VectorCache, text_hash

__all__ = [
    "CacheStats",
    "CachedEncoder",
    "EmbeddingCache",
    "ShardVectorCache",
    "SqliteVectorCache",
    "VectorCache",
    "default_caches",
    "default_shard_dir",
    "default_sqlite_path",
    "open_cache",
    "text_hash",
]
