"""Streaming vector files: `.npy` batches are read, not memory-mapped slices."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack.errors import InputError
from embedstack.store.vector_files import VectorFields, read_vector_batches


def batches(path, size):
    return list(read_vector_batches(path, VectorFields(), batch_size=size))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_npy_batches_equal_the_array(tmp_path, dtype):
    x = (np.random.default_rng(0).standard_normal((23, 5)) * 100).astype(dtype)
    np.save(tmp_path / "v.npy", x)
    got = batches(tmp_path / "v.npy", 10)
    assert [len(ids) for ids, *_ in got] == [10, 10, 3]
    assert [i for ids, *_ in got for i in ids] == [str(i) for i in range(23)]
    joined = np.concatenate([v for _, v, _, _ in got])
    assert joined.dtype == np.float32 and np.array_equal(joined, x.astype(np.float32))
    assert not any(isinstance(v.base, np.memmap) or isinstance(v, np.memmap) for _, v, *_ in got)


def test_fortran_order_npy_takes_the_general_path(tmp_path):
    x = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(4, 3))
    np.save(tmp_path / "f.npy", x)
    assert np.array_equal(np.concatenate([v for _, v, *_ in batches(tmp_path / "f.npy", 3)]), x)


def test_truncated_npy_is_refused(tmp_path):
    np.save(tmp_path / "t.npy", np.ones((100, 8), np.float32))
    blob = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(blob[:-40])
    with pytest.raises(InputError, match="truncated"):
        batches(tmp_path / "t.npy", 64)
