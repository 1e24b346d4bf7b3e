"""Word-level similarity on a static table, so the word vs sentence distinction is visible:
`most_similar("king")` ranks table entries, `encode(["the king"])` embeds a sentence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedstack.errors import InputError
from embedstack.similarity import topk

if TYPE_CHECKING:
    from embedstack.encoders.static import StaticEncoder


def word_vector(encoder: StaticEncoder, word: str) -> np.ndarray:
    """The unit vector of one table entry; an unknown word is an error, not a zero vector."""
    key = word.lower() if encoder.lowercase else word
    row = getattr(encoder, "index", {}).get(key)
    if row is None and encoder._tokenizer is not None:
        row = encoder._tokenizer.token_to_id(key)
    if row is None:
        raise InputError(
            f"{word!r} is not in the vocabulary of {encoder.name}; word helpers work on single "
            "table entries (use encode() for phrases)"
        )
    return encoder.unit_vectors()[row]


def _nearest(
    encoder: StaticEncoder, query: np.ndarray, exclude: set[str], k: int
) -> list[tuple[str, float]]:
    scores = encoder.unit_vectors() @ (query / (np.linalg.norm(query) or 1.0))
    ranked = topk(scores, k + len(exclude))[0]
    words = encoder.table.words
    out = [(words[i], float(scores[i])) for i in ranked if words[i] not in exclude]
    return out[:k]


def most_similar(encoder: StaticEncoder, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` entries closest to `word` by cosine, without `word` itself."""
    key = word.lower() if encoder.lowercase else word
    return _nearest(encoder, word_vector(encoder, word), {key}, k)


def analogy(encoder: StaticEncoder, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
    """`a : b :: c : ?` by vector offset (3CosAdd): nearest to `b - a + c`, inputs excluded."""
    query = word_vector(encoder, b) - word_vector(encoder, a) + word_vector(encoder, c)
    exclude = {w.lower() if encoder.lowercase else w for w in (a, b, c)}
    return _nearest(encoder, query, exclude, k)
