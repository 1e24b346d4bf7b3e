"""The encoder contract: implement `_encode_batch`, get validation, batching and
normalisation for free.

Every dense encoder (local ONNX, hosted API, static word vectors, the hashing encoder
for tests) subclasses `Encoder`, so the rest of embedstack never cares which it has.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np

from embedstack.errors import EmbedstackError
from embedstack.types import EmbeddingSpace, Kind


def check_texts(texts: Sequence[str] | str) -> list[str]:
    """Validate input texts: a list of `str`. A bare string is refused (it is almost
    always a bug: it would be embedded character by character)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not a single string: wrap it as [text]")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return out


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in place-safe fashion; all-zero rows stay zero (never NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


class Encoder(ABC):
    """Turns texts into float32 vectors of shape (n, dim) in one `EmbeddingSpace`.

    Subclasses set `self.space` and implement `_encode_batch`. Query/document prefixes
    from the space are applied here, once, for every encoder.
    """

    space: EmbeddingSpace
    default_batch_size: int = 32

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def name(self) -> str:
        return self.space.model

    @abstractmethod
    def _encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Embed one batch of already-prefixed texts; return raw (n, dim) vectors."""

    def prefix(self, texts: list[str], kind: Kind) -> list[str]:
        prefix = self.space.query_prefix if kind is Kind.QUERY else self.space.document_prefix
        return [prefix + t for t in texts] if prefix else texts

    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
        normalize: bool | None = None,
    ) -> np.ndarray:
        """Embed `texts` (a list of str). An empty string is allowed and gets the
        model's vector for empty input; an empty list gives a (0, dim) array.

        Texts are sorted by length before batching so each batch pads little, and
        returned in input order. `normalize` defaults to the space's setting.
        """
        items = check_texts(texts)
        kind = Kind.parse(kind)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or self.default_batch_size
        if size <= 0:
            raise EmbedstackError(f"batch_size must be positive, got {size}")
        prepared = self.prefix(items, kind)
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        out = np.empty((len(prepared), self.dim), dtype=np.float32)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            batch = self._encode_batch([prepared[i] for i in idx], kind)
            out[idx] = self._checked(batch, len(idx))
        if normalize if normalize is not None else self.space.normalize:
            out = normalize_rows(out)
        return out

    def encode_queries(self, texts: Sequence[str], **kwargs: object) -> np.ndarray:
        return self.encode(texts, kind=Kind.QUERY, **kwargs)  # type: ignore[arg-type]

    def encode_documents(self, texts: Sequence[str], **kwargs: object) -> np.ndarray:
        return self.encode(texts, kind=Kind.DOCUMENT, **kwargs)  # type: ignore[arg-type]

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """Token counts. The default is a conservative estimate (about 4 characters a
        token); encoders with a real tokenizer override it."""
        return [max(1, math.ceil(len(t) / 3)) for t in texts]

    def _checked(self, batch: np.ndarray, expected: int) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape != (expected, self.dim):
            raise EmbedstackError(
                f"{self.name} returned shape {batch.shape}, expected ({expected}, {self.dim})"
            )
        if not np.isfinite(batch).all():
            raise EmbedstackError(
                f"{self.name} produced NaN or infinite values; the vectors were not used"
            )
        return batch
