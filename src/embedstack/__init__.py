"""embedstack: local-first embeddings and retrieval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Collection", "Hit", "Pipeline", "__version__", "load_encoder"]

if TYPE_CHECKING:
    from embedstack.registry import load_encoder
    from embedstack.search.pipeline import Pipeline
    from embedstack.store.collection import Collection
    from embedstack.types import Hit

_EXPORTS = {
    "load_encoder": "embedstack.registry",
    "Collection": "embedstack.store.collection",
    "Pipeline": "embedstack.search.pipeline",
    "Hit": "embedstack.types",
}


def __getattr__(name: str) -> Any:
    """Re-export lazily so `import embedstack` does not import numpy-heavy modules."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'embedstack' has no attribute {name!r}")
