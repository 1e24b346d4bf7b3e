"""The process pool is a wrapper: it overrides `iter_encode` only, so `encode` (checks,
order, normalisation, a single string) behaves exactly as the wrapped encoder's."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.registry import load_parallel


def test_parallel_encoder_matches_the_plain_one() -> None:
    texts = [f"text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(9)]
    parallel = load_parallel("hash:16", workers=2)
    try:
        plain = HashEncoder(16)
        assert parallel.space == plain.space
        np.testing.assert_allclose(parallel.encode(texts), plain.encode(texts), atol=1e-6)
        np.testing.assert_allclose(parallel.encode("one"), plain.encode("one"), atol=1e-6)
        parts = sorted(i for idx, _ in parallel.iter_encode(texts, "query") for i in idx)
        assert parts == list(range(9))
        with pytest.raises(InputError, match="not valid Unicode"):
            parallel.encode(["bad \udcff"])
    finally:
        parallel.close()


def test_parallel_refuses_bad_options() -> None:
    with pytest.raises(InputError, match="workers"):
        load_parallel("hash:16", workers=0)
    with pytest.raises(InputError, match="cache"):
        load_parallel("hash:16", workers=2, cache=True)
