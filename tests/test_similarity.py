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
