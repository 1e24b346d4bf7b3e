"""What every framework adapter shares: encoder resolution, wrapping a framework's own
embedding model as an embedstack `Encoder`, and opening a collection for a store.

The collection always embeds with an `Encoder` (so its manifest records one embedding
space); a framework embedding object the user brings is wrapped by `FunctionEncoder`,
whose space names the class and a hash of its settings so a reopened store with the
same object matches and a different one is refused.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError
from embedstack.search.pipeline import Pipeline
from embedstack.store.collection import Collection
from embedstack.types import EmbeddingSpace, Kind

EmbedMany = Callable[[list[str]], Sequence[Sequence[float]]]
EmbedOne = Callable[[str], Sequence[float]]
PROBE = "embedstack dimension probe"
_CREDENTIALS = ("key", "token", "secret", "password", "auth")


def resolve_encoder(model: str | Encoder | None, **options: Any) -> tuple[Encoder, str]:
    """An encoder and its spec from a spec string (None: `EMBEDSTACK_MODEL` or the
    default model) or an encoder object."""
    if isinstance(model, Encoder):
        return model, getattr(model, "spec", "") or model.space.model
    from embedstack.config import default_model_spec
    from embedstack.registry import load_encoder

    spec = model or default_model_spec()
    return load_encoder(spec, **options), spec


def settings_hash(obj: Any) -> str:
    """A stable hash of a framework object's plain settings (its pydantic fields, else
    its attributes) that are strings, numbers or booleans, e.g. the model name and the
    dimension: two instances configured alike share an embedding space. Objects and
    secrets are left out (their reprs are not stable and must not be stored)."""
    dump = getattr(obj, "model_dump", None)
    try:
        data = dump() if callable(dump) else dict(getattr(obj, "__dict__", {}))
    except Exception:  # a framework object whose dump fails: fall back to attributes
        data = dict(getattr(obj, "__dict__", {}))
    plain = {
        k: v
        for k, v in data.items()
        if not k.startswith("_")
        and not any(word in k.lower() for word in _CREDENTIALS)  # a rotated key is no new space
        and isinstance(v, str | int | float | bool)
    }
    blob = json.dumps(plain, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class FunctionEncoder(Encoder):
    """An `Encoder` over a framework's embedding functions (documents and query).

    Vectors are used as the functions return them (`normalize=False` in the space), so
    a cosine collection ranks them by true cosine whatever their norm.
    """

    def __init__(
        self,
        name: str,
        embed_documents: EmbedMany,
        embed_query: EmbedOne,
        *,
        fingerprint: str = "",
        dim: int | None = None,
    ) -> None:
        self._documents = embed_documents
        self._query = embed_query
        self.spec = name
        if dim is None:
            dim = len(embed_query(PROBE))
        if dim <= 0:
            raise InputError(f"{name} returned an empty vector: it cannot back a collection")
        self.space = EmbeddingSpace(
            model=name, dim=dim, fingerprint=fingerprint, pooling="external", normalize=False
        )

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Documents in one call; queries one by one (frameworks embed queries singly)."""
        if kind is Kind.QUERY:
            rows = [list(self._query(t)) for t in texts]
        else:
            rows = [list(r) for r in self._documents(list(texts))]
        if len(rows) != len(texts):
            raise InputError(f"{self.spec} returned {len(rows)} vectors for {len(texts)} texts")
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def open_collection(
    path: str | Path | None,
    encoder: Encoder | None,
    *,
    indexes: Any = None,
    metric: str = "cosine",
) -> tuple[Collection, tempfile.TemporaryDirectory[str] | None]:
    """Open the collection at `path` (checking the encoder's space; None: the
    collection's own encoder) or create it (None: `EMBEDSTACK_MODEL` or the default
    model); with no path, create one in a temporary folder that lives as long as the
    returned handle."""
    temp = None
    if path is None:
        temp = tempfile.TemporaryDirectory(prefix="embedstack-")
        path = Path(temp.name) / "collection"
    collection = Collection.create(path, encoder, indexes=indexes, exist_ok=True, metric=metric)
    return collection, temp


def fill_ids(ids: Sequence[str | None] | None, n: int) -> list[str]:
    """Ids for `n` items: given ones kept, missing ones (None or absent) made up."""
    if ids is None:
        return [uuid.uuid4().hex for _ in range(n)]
    items = list(ids)
    if len(items) != n:
        raise InputError(f"got {len(items)} ids for {n} texts: give one id per text")
    return [str(i) if i else uuid.uuid4().hex for i in items]


def relevance(score: float, metric: str, normalized: bool) -> float:
    """Map a collection score (larger is better) to [0, 1] for relevance thresholds:
    cosine (or dot on unit vectors) linearly, euclidean (score = -distance) as
    1 / (1 + distance), raw dot products through a logistic."""
    if metric == "cosine" or (metric == "dot" and normalized):
        return min(1.0, max(0.0, (1.0 + score) / 2.0))
    if metric == "euclidean":
        return 1.0 / (1.0 - score)
    return float(1.0 / (1.0 + np.exp(-score)))


def build_pipeline(collection: Collection, name: str, rerank: str | None = None) -> Pipeline:
    """The retrieval pipeline a name describes (`dense`, `bm25`, `hybrid`,
    `hybrid+rerank`, ...) over `collection`, built by `Pipeline.from_spec` exactly as
    `embedstack search` builds it."""
    settings = {"reranker": rerank} if rerank is not None else {}
    return Pipeline.from_spec(collection, name, **settings)
