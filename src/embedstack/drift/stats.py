"""The statistics of drift detection, in plain numpy (no scipy: it may leave the core).

Every test here returns a p-value under "both samples come from one distribution", so
thresholds are significance levels, not magic numbers: a resample of the reference is
flagged at most at the chosen rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_KS_TERMS = np.arange(1, 101, dtype=np.float64)


def kolmogorov_sf(lam: np.ndarray) -> np.ndarray:
    """P(K > lam) for the Kolmogorov distribution (the KS statistic's limit law)."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    signs = np.where(_KS_TERMS % 2 == 1, 1.0, -1.0)
    terms = signs[None, :] * np.exp(-2.0 * (_KS_TERMS[None, :] ** 2) * (lam[:, None] ** 2))
    out = 2.0 * terms.sum(axis=1)
    out[lam < 0.2] = 1.0  # the alternating series converges slowly there; the value is ~1
    return np.clip(out, 0.0, 1.0)


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column two-sample Kolmogorov-Smirnov statistics and asymptotic p-values
    (with Stephens' small-sample correction). `a` is (n, d), `b` is (m, d)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, m = len(a), len(b)
    stats = np.empty(a.shape[1])
    for col in range(a.shape[1]):
        xa, xb = np.sort(a[:, col]), np.sort(b[:, col])
        grid = np.concatenate([xa, xb])
        cdf_a = np.searchsorted(xa, grid, side="right") / n
        cdf_b = np.searchsorted(xb, grid, side="right") / m
        stats[col] = np.abs(cdf_a - cdf_b).max()
    en = np.sqrt(n * m / (n + m))
    return stats, kolmogorov_sf((en + 0.12 + 0.11 / en) * stats)


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (q-values): reject where q < alpha controls the false
    discovery rate, and under the global null the chance of any rejection, at alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.clip(ranked, 0.0, 1.0)
    return out


def squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances, (len(x), len(y)), never negative."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(out, 0.0)


def median_bandwidth(z: np.ndarray, rng: np.random.Generator, cap: int = 500) -> float:
    """The median heuristic: the median pairwise squared distance (on at most `cap` rows)."""
    if len(z) > cap:
        z = z[rng.choice(len(z), cap, replace=False)]
    d = squared_distances(z, z)[np.triu_indices(len(z), k=1)]
    positive = d[d > 0]
    return float(np.median(positive)) if positive.size else 1.0


@dataclass(frozen=True)
class TwoSample:
    """Results of the permutation tests between a reference sample and new vectors."""

    mmd2: float  # squared MMD, RBF kernel (biased V-statistic)
    mmd_p: float
    mean_shift: float  # squared distance between the two means
    mean_p: float
    bandwidth: float
    outlier_rate: float = 0.0  # share of y rows whose nearest x is beyond the threshold
    outlier_p: float = 1.0


def permutation_tests(
    x: np.ndarray,
    y: np.ndarray,
    *,
    permutations: int = 200,
    seed: int = 0,
    outlier_distance: float | None = None,
) -> TwoSample:
    """MMD (RBF, median-heuristic bandwidth) and mean-difference tests, both with
    permutation p-values `(1 + #perm >= observed) / (1 + permutations)`, which keep
    their level exactly whatever the sample sizes. With `outlier_distance`, the share
    of y rows whose nearest x row is farther than it is tested the same way (outliers
    cluster, so a binomial test on their count would fire too often).

    Both statistics are quadratic forms s' K s with s = +1/n on x and -1/m on y, so
    all permutations are evaluated with one matrix product per kernel."""
    rng = np.random.default_rng(seed)
    z = np.concatenate([x, y]).astype(np.float64)
    n, total = len(x), len(x) + len(y)
    bandwidth = median_bandwidth(z, rng)
    dist = squared_distances(z, z)
    kernel = np.exp(-dist / bandwidth)
    gram = z @ z.T
    labels = np.empty((total, permutations + 1))
    base = np.concatenate([np.full(n, 1.0 / n), np.full(total - n, -1.0 / (total - n))])
    labels[:, 0] = base
    for j in range(1, permutations + 1):
        labels[:, j] = rng.permutation(base)
    mmd = np.einsum("ij,ij->j", labels, kernel @ labels)
    mean = np.einsum("ij,ij->j", labels, gram @ labels)
    rate, rate_p = 0.0, 1.0
    if outlier_distance is not None:
        limit = outlier_distance**2
        rates = np.empty(permutations + 1)
        for j in range(permutations + 1):
            in_x = labels[:, j] > 0
            rates[j] = np.mean(dist[np.ix_(~in_x, in_x)].min(axis=1) > limit)
        rate = float(rates[0])
        rate_p = float((1 + np.sum(rates[1:] >= rates[0])) / (1 + permutations))
    return TwoSample(
        mmd2=float(mmd[0]),
        mmd_p=float((1 + np.sum(mmd[1:] >= mmd[0] - 1e-12)) / (1 + permutations)),
        mean_shift=float(mean[0]),
        mean_p=float((1 + np.sum(mean[1:] >= mean[0] - 1e-12)) / (1 + permutations)),
        bandwidth=bandwidth,
        outlier_rate=rate,
        outlier_p=rate_p,
    )


def nearest_distances(
    queries: np.ndarray, reference: np.ndarray, *, leave_one_out: bool = False
) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (in blocks,
    so memory stays bounded). `leave_one_out`: queries are the reference itself, and
    each row's own entry is skipped."""
    out = np.empty(len(queries))
    for start in range(0, len(queries), 512):
        block = squared_distances(queries[start : start + 512], reference)
        if leave_one_out:
            rows = np.arange(len(block))
            block[rows, rows + start] = np.inf
        out[start : start + 512] = np.sqrt(block.min(axis=1))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra, rb = _ranks(np.asarray(a)), _ranks(np.asarray(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for s, e in zip(starts, ends, strict=True):
        if e - s > 1:
            ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks
