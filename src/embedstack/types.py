"""Small value types shared by every stage: embedding spaces, hits, sparse vectors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np

from embedstack.errors import InputError, SpaceMismatchError


class Kind(str, Enum):
    """Which side of retrieval a text is on; models may prefix or instruct each differently."""

    QUERY = "query"
    DOCUMENT = "document"

    @classmethod
    def parse(cls, value: str | Kind) -> Kind:
        """The Kind named by value, or a clear error."""
        try:
            return cls(value)
        except ValueError:
            raise InputError(f"kind must be 'query' or 'document', got {value!r}") from None


@dataclass(frozen=True)
class EmbeddingSpace:
    """Everything that makes two vectors comparable. Equal spaces or no mixing.

    `fingerprint` identifies the weights (sha256 of the weights file, or provider + model
    + API version for hosted models); `tokenizer` is a hash of the tokenizer definition.
    """

    model: str
    dim: int
    fingerprint: str = ""
    tokenizer: str = ""
    pooling: str = ""
    normalize: bool = True
    query_prefix: str = ""
    document_prefix: str = ""
    max_tokens: int | None = None
    precision: str = "float32"
    revision: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The space as a JSON-ready dict."""
        data = asdict(self)
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingSpace:
        """Rebuild a space from its `to_dict` form, refusing unknown fields."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown embedding-space fields: {sorted(unknown)}")
        values = dict(data)
        values["extra"] = tuple(sorted((values.get("extra") or {}).items()))
        return cls(**values)

    def key(self) -> str:
        """A short stable hash: use it to key caches of vectors made in this space."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def diff(self, other: EmbeddingSpace) -> list[str]:
        """Field-by-field differences, e.g. `pooling: 'mean' != 'cls'`."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k}: {mine[k]!r} != {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]

    def require_same(self, other: EmbeddingSpace, what: str = "collection") -> None:
        """Refuse to mix vectors from `other` into this space, listing what differs."""
        differences = self.diff(other)
        if differences:
            raise SpaceMismatchError(
                f"the {what} was built in a different embedding space ("
                + "; ".join(differences)
                + "). Use the same model settings, or re-index into a new "
                f"{what}."
            )


@dataclass
class Hit:
    """One search result. `stages` keeps each stage's score and rank, e.g.
    `{"dense": {"score": 0.71, "rank": 1}, "bm25": {...}, "rerank": {...}}`."""

    id: str
    score: float
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The hit as a JSON-ready dict."""
        return {
            "id": self.id,
            "score": float(self.score),
            "text": self.text,
            "metadata": self.metadata,
            "stages": self.stages,
        }


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector as parallel arrays of term ids (int32) and weights (float32)."""

    indices: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.indices.shape != self.values.shape or self.indices.ndim != 1:
            raise InputError("SparseVector needs 1-d indices and values of the same length")

    def dot(self, other: SparseVector) -> float:
        """Dot product with another sparse vector."""
        common, mine, theirs = np.intersect1d(
            self.indices, other.indices, assume_unique=True, return_indices=True
        )
        if common.size == 0:
            return 0.0
        return float(np.dot(self.values[mine], other.values[theirs]))

    def to_dict(self) -> dict[str, list[Any]]:
        """Indices and values as plain lists, for JSON."""
        return {"indices": self.indices.tolist(), "values": self.values.tolist()}
