"""Encoders behind one contract per kind (dense `Encoder`, `SparseEncoder`,
`MultiVectorEncoder`), and the cache in front of the dense ones.

Re-exports only, resolved lazily so `import embedstack.encoders` stays cheap (hosted
encoders import httpx, local ones ONNX Runtime). Build encoders from a spec with
`embedstack.load_encoder`; the classes are here for subclassing and type checks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embedstack.encoders.base import Encoder, check_texts
    from embedstack.encoders.cache import (
        CachedEncoder,
        CacheStats,
        ShardVectorCache,
        SqliteVectorCache,
        VectorCache,
        open_cache,
    )
    from embedstack.encoders.colbert import ColbertEncoder
    from embedstack.encoders.hashing import HashEncoder
    from embedstack.encoders.hosted import HostedEncoder, load_hosted
    from embedstack.encoders.kinds import MultiVectorEncoder, SparseEncoder
    from embedstack.encoders.onnx import OnnxEncoder, load_local
    from embedstack.encoders.parallel import ParallelEncoder
    from embedstack.encoders.splade import SpladeEncoder
    from embedstack.encoders.static import StaticEncoder, load_static

_EXPORTS = {
    "Encoder": "embedstack.encoders.base",
    "check_texts": "embedstack.encoders.base",
    "CachedEncoder": "embedstack.encoders.cache",
    "CacheStats": "embedstack.encoders.cache",
    "ShardVectorCache": "embedstack.encoders.cache",
    "SqliteVectorCache": "embedstack.encoders.cache",
    "VectorCache": "embedstack.encoders.cache",
    "open_cache": "embedstack.encoders.cache",
    "HashEncoder": "embedstack.encoders.hashing",
    "HostedEncoder": "embedstack.encoders.hosted",
    "load_hosted": "embedstack.encoders.hosted",
    "OnnxEncoder": "embedstack.encoders.onnx",
    "load_local": "embedstack.encoders.onnx",
    "ParallelEncoder": "embedstack.encoders.parallel",
    "StaticEncoder": "embedstack.encoders.static",
    "ColbertEncoder": "embedstack.encoders.colbert",
    "MultiVectorEncoder": "embedstack.encoders.kinds",
    "SparseEncoder": "embedstack.encoders.kinds",
    "SpladeEncoder": "embedstack.encoders.splade",
    "load_static": "embedstack.encoders.static",
}

__all__ = [
    "CacheStats",
    "CachedEncoder",
    "ColbertEncoder",
    "Encoder",
    "HashEncoder",
    "HostedEncoder",
    "MultiVectorEncoder",
    "OnnxEncoder",
    "ParallelEncoder",
    "ShardVectorCache",
    "SparseEncoder",
    "SpladeEncoder",
    "SqliteVectorCache",
    "StaticEncoder",
    "VectorCache",
    "check_texts",
    "load_hosted",
    "load_local",
    "load_static",
    "open_cache",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'embedstack.encoders' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
