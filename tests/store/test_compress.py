"""The quantisation math and the sealed index folders."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack.errors import CollectionError
from embedstack.store.compress import (
    Codes,
    binarize,
    calibrate_int8,
    dequantize_int8,
    hamming,
    quantize_int8,
    truncate,
)
from embedstack.store.sealed import seal, verify


def unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_int8_round_trip_error_is_within_half_a_step():
    x = unit(500, 64)
    lo, hi = calibrate_int8(x, quantile=0.0)
    codes = quantize_int8(x, lo, hi)
    assert codes.dtype == np.int8
    step = (hi - lo) / 255.0
    assert np.all(np.abs(dequantize_int8(codes, lo, hi) - x) <= step / 2 + 1e-6)


def test_hamming_counts_differing_bits():
    x = np.random.default_rng(1).standard_normal((50, 70))
    bits = binarize(x)
    assert bits.shape == (50, 9)  # 70 bits packed into 9 bytes
    naive = ((x > 0) != (x[0] > 0)).sum(axis=1)
    assert hamming(bits[0], bits).tolist() == naive.tolist()


def test_truncate_renormalises():
    x = unit(10, 32) * 3.0
    cut = truncate(x, 8, normalize=True)
    assert cut.shape == (10, 8)
    assert np.linalg.norm(cut, axis=1) == pytest.approx(np.ones(10), abs=1e-6)


# Stated tolerances of each storage's cosine scores against float32 (unit vectors, d=128).
# Binary estimates cosine from the Hamming distance as cos(pi * h / d) (sign random
# projections); on isotropic data its mean error is small, single scores vary more.
@pytest.mark.parametrize(
    ("storage", "max_error"), [("float32", 1e-6), ("float16", 2e-3), ("int8", 0.02)]
)
def test_storage_scores_close_to_float32(storage, max_error):
    x, q = unit(400, 128), unit(1, 128, seed=5)[0]
    codes = Codes(storage, "dot")
    codes.add(np.arange(400), x)
    assert np.abs(codes.scores(q, None) - x @ q).max() <= max_error
    assert codes.bytes_per_vector == {"float32": 512, "float16": 256, "int8": 128}[storage]


def test_binary_estimate_of_cosine():
    x, q = unit(2000, 256), unit(1, 256, seed=5)[0]
    codes = Codes("binary", "dot")
    codes.add(np.arange(2000), x)
    assert codes.bytes_per_vector == 32  # 32x smaller than float32
    estimate = np.cos(np.pi * -codes.scores(q, None) / 256)
    assert np.abs(estimate - x @ q).mean() < 0.08


def test_seal_detects_truncation_and_bit_flips(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    seal(tmp_path, "hnsw")
    verify(tmp_path, "hnsw", "rebuild me")
    with pytest.raises(CollectionError, match="does not describe a compressed index"):
        verify(tmp_path, "compressed", "rebuild me")
    (tmp_path / "a.bin").write_bytes(b"x" * 999 + b"y")
    with pytest.raises(CollectionError, match=r"fails its checksum.*rebuild me"):
        verify(tmp_path, "hnsw", "rebuild me")
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    with pytest.raises(CollectionError, match="truncated"):
        verify(tmp_path, "hnsw", "rebuild me")
    (tmp_path / "SEAL.json").unlink()
    with pytest.raises(CollectionError, match=r"SEAL.json is missing"):
        verify(tmp_path, "hnsw", "rebuild me")
