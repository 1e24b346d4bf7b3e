"""Synthetic embedding-like vectors for the drift tests: an anisotropic Gaussian with a
common offset (real embeddings share a mean direction and have uneven variances)."""

from __future__ import annotations

import numpy as np

from embedstack.types import EmbeddingSpace

DIM = 24
SPACE = EmbeddingSpace(model="synthetic:24", dim=DIM, normalize=False)
_GEN = np.random.default_rng(1234)
BASIS = np.linalg.qr(_GEN.standard_normal((DIM, DIM)))[0]
SCALES = np.linspace(2.0, 0.2, DIM)
MEAN = _GEN.standard_normal(DIM)


def draw(rng: np.random.Generator, n: int) -> np.ndarray:
    return (MEAN + (rng.standard_normal((n, DIM)) * SCALES) @ BASIS).astype(np.float32)


def rotation(rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]
