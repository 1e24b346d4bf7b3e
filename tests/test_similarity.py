import numpy as np
import pytest

from embedstack.errors import InputError
from embedstack.similarity import cosine, dot, euclidean, scores, topk


def test_cosine_dot_euclidean_by_hand():
    a = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(cosine(a, b), [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(dot(a, b), [[3.0, 8.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        euclidean(a, b), [[np.sqrt(20), np.sqrt(9 + 4)], [1.0, 2.0]], atol=1e-5
    )
    np.testing.assert_allclose(scores(a, b, "euclidean"), -euclidean(a, b))


def test_dimension_mismatch_is_clear():
    with pytest.raises(InputError, match="dimension mismatch: 2 vs 3"):
        cosine(np.ones((1, 2)), np.ones((1, 3)))


def test_topk_matches_full_sort_with_ties_by_index():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 20, size=500).astype(np.float32)
    idx, top = topk(values, 25)
    expected = sorted(range(500), key=lambda i: (-values[i], i))[:25]
    assert [values[i] for i in idx] == [values[i] for i in expected]
    np.testing.assert_array_equal(top, values[idx])
    assert list(topk(values[:3], 10)[0]) == sorted(range(3), key=lambda i: (-values[i], i))
    with pytest.raises(InputError):
        topk(values, 0)


def test_topk_ties_go_to_the_lower_index():
    idx, top = topk(np.array([1.0] * 10 + [2.0]), 3)
    assert idx.tolist() == [10, 0, 1]
    assert top.tolist() == [2.0, 1.0, 1.0]


def test_topk_smaller_k_is_a_prefix_of_larger_k():
    values = np.array([1.0] * 10 + [2.0])
    three, five = topk(values, 3)[0], topk(values, 5)[0]
    assert five.tolist()[:3] == three.tolist() == [10, 0, 1]
    assert five.tolist() == [10, 0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(20))
def test_topk_random_ties_equal_a_stable_full_sort(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    values = rng.integers(0, int(rng.integers(1, 6)), size=n).astype(np.float32)
    expected = sorted(range(n), key=lambda i: (-values[i], i))
    for k in (1, 2, 7, n, n + 3):
        assert topk(values, k)[0].tolist() == expected[:k]


def test_topk_puts_nan_last_and_refuses_2d():
    idx, _ = topk(np.array([np.nan, 1.0, np.nan, 3.0]), 3)
    assert idx.tolist() == [3, 1, 0]
    with pytest.raises(InputError, match="1-d"):
        topk(np.ones((2, 2)), 1)
