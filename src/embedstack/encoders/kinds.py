"""The sparse and multi-vector encoder contracts: implement `encode_batch`, get the rest.

They mirror the dense `Encoder`: one required public method, `encode_batch(texts, kind)`,
and an `EmbeddingSpace` in `space` that names the weights (sha256 of the weights file),
tokenizer, pooling, limits and settings. `encode` is derived here once (input checks,
length-sorted batching, output checks), and every index built from these vectors records
the space, so vectors from other weights or settings are never mixed into it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, final

import numpy as np

from embedstack.encoders.base import check_texts
from embedstack.errors import EmbedstackError, InputError
from embedstack.types import EmbeddingSpace, Kind, SparseVector


def length_batches(texts: list[str], size: int) -> Iterator[list[int]]:
    """Positions of `texts` in batches of `size`, shortest texts first (less padding)."""
    if size <= 0:
        raise InputError(f"batch_size must be positive, got {size}")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), size):
        yield order[start : start + size]


class _KindEncoder(ABC):
    """What both kinds share: the space and the names derived from it."""

    space: EmbeddingSpace
    default_batch_size: int = 32

    @property
    def dim(self) -> int:
        """Vocabulary size (sparse) or token-vector width (multi-vector)."""
        return self.space.dim

    @property
    def name(self) -> str:
        """The model id recorded in the space."""
        return self.space.model

    def config(self) -> dict[str, Any]:
        """Settings that rebuild this encoder; indexes store them (override to add more)."""
        return {"model": self.space.model}

    def _bad(self, problem: str) -> EmbedstackError:
        return EmbedstackError(f"{self.name} {problem}; the vectors were not used")


class SparseEncoder(_KindEncoder):
    """Texts -> one `SparseVector` over the model's vocabulary (`space.dim` terms) each."""

    default_batch_size = 16

    @property
    def vocab_size(self) -> int:
        """Number of term ids: every index is in [0, vocab_size)."""
        return self.space.dim

    @abstractmethod
    def encode_batch(self, texts: list[str], kind: Kind) -> list[SparseVector]:
        """Encode one batch of texts; one vector per text, in order."""

    @final
    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
    ) -> list[SparseVector]:
        """Encode `texts` (a list of str) in length-sorted batches, returned in input order."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        out: list[SparseVector | None] = [None] * len(items)
        for idx in length_batches(items, batch_size or self.default_batch_size):
            vectors = self.encode_batch([items[i] for i in idx], kind)
            if len(vectors) != len(idx):
                raise self._bad(f"returned {len(vectors)} sparse vectors for {len(idx)} texts")
            for i, vector in zip(idx, vectors, strict=True):
                out[i] = self._checked(vector)
        return [v for v in out if v is not None]

    def _checked(self, vector: SparseVector) -> SparseVector:
        terms = vector.indices
        if len(terms) and (terms.min() < 0 or terms.max() >= self.dim):
            raise self._bad(f"returned term ids outside its vocabulary of {self.dim}")
        if not np.isfinite(vector.values).all():
            raise self._bad("produced NaN or infinite weights")
        return vector


class MultiVectorEncoder(_KindEncoder):
    """Texts -> one (tokens, `space.dim`) float32 array of token vectors each."""

    @abstractmethod
    def encode_batch(self, texts: list[str], kind: Kind) -> list[np.ndarray]:
        """Encode one batch of texts; one (tokens, dim) array per text, in order."""

    @final
    def encode(
        self,
        texts: Sequence[str],
        kind: Kind | str = Kind.DOCUMENT,
        batch_size: int | None = None,
    ) -> list[np.ndarray]:
        """Encode `texts` (a list of str) in length-sorted batches, returned in input order."""
        items = check_texts(texts)
        kind = Kind.parse(kind)
        out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(items)
        for idx in length_batches(items, batch_size or self.default_batch_size):
            arrays = self.encode_batch([items[i] for i in idx], kind)
            if len(arrays) != len(idx):
                raise self._bad(f"returned {len(arrays)} token matrices for {len(idx)} texts")
            for i, array in zip(idx, arrays, strict=True):
                out[i] = self._checked(array)
        return out

    def _checked(self, array: np.ndarray) -> np.ndarray:
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise self._bad(f"returned shape {array.shape}, expected (tokens, {self.dim})")
        if not np.isfinite(array).all():
            raise self._bad("produced NaN or infinite values")
        return array
