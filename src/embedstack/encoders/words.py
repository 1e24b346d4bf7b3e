"""Word-level similarity on a static table, so the word vs sentence distinction is visible:
`most_similar("king")` ranks table entries, `encode(["the king"])` embeds a sentence.

It works on anything shaped like a word table (`WordVectors`), so it needs no import of
the static encoder that uses it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from embedstack.errors import InputError
from embedstack.similarity import topk


class WordVectors(Protocol):
    """A table of word vectors: entries, unit rows, and a word -> row lookup."""

    @property
    def name(self) -> str:
        """Table name (for messages)."""

    @property
    def lowercase(self) -> bool:
        """Whether entries are lowercased."""

    @property
    def words(self) -> list[str]:
        """Entries in row order."""

    def row_of(self, word: str) -> int | None:
        """Row of one entry, or None."""

    def unit_vectors(self) -> np.ndarray:
        """The table with unit-length rows."""


def word_vector(table: WordVectors, word: str) -> np.ndarray:
    """The unit vector of one table entry; an unknown word is an error, not a zero vector."""
    row = table.row_of(word)
    if row is None:
        raise InputError(
            f"{word!r} is not in the vocabulary of {table.name}; word helpers work on single "
            "table entries (use encode() for phrases)"
        )
    return table.unit_vectors()[row]


def _nearest(
    table: WordVectors, query: np.ndarray, exclude: set[str], k: int
) -> list[tuple[str, float]]:
    scores = table.unit_vectors() @ (query / (np.linalg.norm(query) or 1.0))
    ranked = topk(scores, k + len(exclude))[0]
    words = table.words
    out = [(words[i], float(scores[i])) for i in ranked if words[i] not in exclude]
    return out[:k]


def most_similar(table: WordVectors, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` entries closest to `word` by cosine, without `word` itself."""
    key = word.lower() if table.lowercase else word
    return _nearest(table, word_vector(table, word), {key}, k)


def analogy(table: WordVectors, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
    """`a : b :: c : ?` by vector offset (3CosAdd): nearest to `b - a + c`, inputs excluded."""
    query = word_vector(table, b) - word_vector(table, a) + word_vector(table, c)
    exclude = {w.lower() if table.lowercase else w for w in (a, b, c)}
    return _nearest(table, query, exclude, k)
