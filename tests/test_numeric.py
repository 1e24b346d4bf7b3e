"""The numpy replacements of scipy's erf / rankdata / pearsonr / spearmanr, checked against
scipy (a dev dependency only)."""

import numpy as np
import pytest

from embedstack.numeric import erf, pearson, rankdata, spearman

special = pytest.importorskip("scipy.special")
stats = pytest.importorskip("scipy.stats")


def test_erf_matches_scipy_to_double_precision():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [np.linspace(-9, 9, 20001), rng.normal(0, 3, 5000), [0.0, 1.0, -1.0, 8.0, -8.0, 1e-300]]
    )
    np.testing.assert_allclose(erf(x), special.erf(x), rtol=1e-14, atol=1e-15)


def test_erf_edges_and_dtypes():
    out = erf(np.array([np.inf, -np.inf, 40.0, -40.0, np.nan]))
    np.testing.assert_array_equal(out[:4], [1.0, -1.0, 1.0, -1.0])
    assert np.isnan(out[4])
    x32 = np.linspace(-4, 4, 101, dtype=np.float32)
    assert erf(x32).dtype == np.float32
    np.testing.assert_allclose(erf(x32), special.erf(x32), atol=1e-7)
    assert erf(0.5) == pytest.approx(special.erf(0.5), rel=1e-15)


def test_exact_gelu_of_the_splade_head_uses_it():
    from embedstack.encoders.splade import _activation

    x = np.linspace(-5, 5, 41, dtype=np.float32)
    expected = 0.5 * x * (1 + special.erf(x / np.sqrt(2.0)))
    np.testing.assert_allclose(_activation(x, "gelu"), expected, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_ranks_and_correlations_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 6, 80).astype(float)  # many ties, as gold STS scores have
    predicted = gold + rng.normal(0, 1.5, 80)
    predicted[::7] = predicted[0]  # ties on the predicted side too
    np.testing.assert_array_equal(rankdata(gold), stats.rankdata(gold))
    np.testing.assert_array_equal(rankdata(predicted), stats.rankdata(predicted))
    assert spearman(predicted, gold) == pytest.approx(
        stats.spearmanr(predicted, gold).statistic, abs=1e-12
    )
    assert pearson(predicted, gold) == pytest.approx(
        stats.pearsonr(predicted, gold).statistic, abs=1e-12
    )


def test_perfect_and_constant_inputs():
    x = np.arange(10.0)
    assert spearman(x, x**3) == 1.0
    assert pearson(x, -2 * x) == -1.0
    assert np.isnan(pearson(x, np.ones(10)))
    assert np.isnan(spearman(np.ones(10), x))
