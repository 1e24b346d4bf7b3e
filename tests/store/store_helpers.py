"""Shared helpers for the collection tests (imported, not collected)."""

from __future__ import annotations

import numpy as np

from embedstack.encoders.hashing import HashEncoder
from embedstack.types import Kind


class CountingEncoder(HashEncoder):
    """HashEncoder that counts how many texts it was asked to embed."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.embedded = 0

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        self.embedded += len(texts)
        return super().encode_batch(texts, kind)


DOCS = {
    "cat": ("The cat sat on the warm mat by the fire", {"animal": "cat", "year": 2019}),
    "dog": ("A dog chased the ball across the park", {"animal": "dog", "year": 2021}),
    "fish": ("Goldfish swim slowly in a glass bowl", {"animal": "fish", "year": 2023}),
    "code": ("Python code parses the configuration file", {"year": 2020, "lang": "en"}),
    "tea": ("Green tea steeps for three minutes in hot water", {"year": "2022"}),
}


def fill(collection) -> list[str]:
    ids = list(DOCS)
    return collection.add(
        [DOCS[i][0] for i in ids], ids=ids, metadata=[dict(DOCS[i][1]) for i in ids]
    )
