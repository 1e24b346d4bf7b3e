import numpy as np
import pytest

from embedstack.drift.stats import (
    benjamini_hochberg,
    kolmogorov_sf,
    ks_2samp,
    nearest_distances,
    permutation_tests,
    spearman,
)


def test_kolmogorov_sf_known_values():
    # The classic 5% and 1% critical values of the Kolmogorov distribution.
    assert kolmogorov_sf(np.array([1.3581]))[0] == pytest.approx(0.05, abs=5e-4)
    assert kolmogorov_sf(np.array([1.6276]))[0] == pytest.approx(0.01, abs=2e-4)
    assert kolmogorov_sf(np.array([0.0]))[0] == 1.0


def test_ks_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 4))
    b = rng.standard_normal((200, 4)) + np.array([0.0, 0.1, 0.3, 0.6])
    d, p = ks_2samp(a, b)
    for col in range(4):
        ref = stats.ks_2samp(a[:, col], b[:, col], method="asymp")
        assert d[col] == pytest.approx(ref.statistic, abs=1e-12)
        # Stephens' correction differs slightly from scipy's asymptotic formula.
        assert p[col] == pytest.approx(ref.pvalue, rel=0.15, abs=1e-3)
    assert p[3] < 1e-4 < p[0]


def test_ks_handles_ties():
    a = np.zeros((50, 1))
    b = np.zeros((40, 1))
    d, p = ks_2samp(a, b)
    assert d[0] == 0.0 and p[0] == 1.0


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]))
    # sorted: 0.01*4/1=0.04, 0.03*4/2=0.06, 0.04*4/3=0.0533 -> monotone 0.0533, 0.5
    assert q == pytest.approx([0.04, 0.05333333, 0.05333333, 0.5])


def test_permutation_p_values_are_calibrated_under_the_null():
    # p-values of a valid test are uniform: about 5% fall below 0.05.
    ps = [
        permutation_tests(
            *np.random.default_rng(s).standard_normal((2, 40, 3)), permutations=39, seed=s
        ).mmd_p
        for s in range(100)
    ]
    assert 0.01 <= np.mean(np.array(ps) <= 0.05) <= 0.10


def test_permutation_tests_separate_null_and_shift():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 5))
    same = permutation_tests(x, rng.standard_normal((60, 5)), permutations=99, seed=1)
    moved = permutation_tests(x, rng.standard_normal((60, 5)) + 1.0, permutations=99, seed=1)
    assert same.mmd_p > 0.05 and same.mean_p > 0.05
    assert moved.mmd_p == moved.mean_p == pytest.approx(0.01)
    assert moved.mmd2 > same.mmd2 >= -1e-12


def test_nearest_distances_leave_one_out():
    ref = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    assert nearest_distances(ref, ref, leave_one_out=True) == pytest.approx([1.0, np.sqrt(18), 1.0])
    assert nearest_distances(np.array([[3.0, 5.0]]), ref) == pytest.approx([1.0])


def test_spearman_with_ties():
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    stats = pytest.importorskip("scipy.stats")
    a, b = np.array([1, 2, 2, 3, 5, 5, 7]), np.array([2, 1, 4, 4, 3, 9, 8])
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
