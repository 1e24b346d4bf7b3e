"""A deterministic, dependency-free encoder for tests and examples.

Feature hashing of lowercased word unigrams and character trigrams into `dim` buckets
with signed hashes. Texts sharing words get similar vectors, so search behaves sensibly,
but it is not a semantic model: never use it for real retrieval quality.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError
from embedstack.text.tokenize import Tokenizer, WordTokenizer
from embedstack.types import EmbeddingSpace, Kind

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


class HashEncoder(Encoder):
    """`load_encoder("hash")` or `load_encoder("hash:64")`."""

    def __init__(self, dim: int = 256) -> None:
        if dim <= 0:
            raise InputError(f"dim must be positive, got {dim}")
        self.space = EmbeddingSpace(
            model=f"hash:{dim}", dim=dim, fingerprint="blake2b-words+trigrams-v1", pooling="sum"
        )

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Signed feature hashing of each text's words and character trigrams."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            features = [f"w:{w}" for w in words]
            for w in words:
                padded = f"#{w}#"
                features.extend(f"c:{padded[i : i + 3]}" for i in range(len(padded) - 2))
            for feature in features:
                col, sign = _bucket(feature, self.dim)
                out[row, col] += sign
        return out

    def count_tokens(self, texts: Iterable[str]) -> list[int]:
        """Words per text (`\\w+`), the units this encoder hashes."""
        return [len(_WORD.findall(t)) for t in texts]

    def span_tokenizer(self) -> Tokenizer:
        """Word tokens, as this encoder sees them."""
        return WordTokenizer()
