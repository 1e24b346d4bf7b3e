"""Compare vectors with a reference: (a) new data in the same space, (b) two spaces.

(a) runs four tests against the profile's reference sample: an RBF-kernel MMD and a
mean-shift test (permutation p-values), per-dimension KS with Benjamini-Hochberg
correction, and an outlier-rate test on nearest-neighbour distances. Each runs at
alpha / 4 (Bonferroni), so a same-distribution resample is flagged at most `alpha`
of the time. (b) measures how much neighbourhoods change between two encoders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedstack.drift.profile import OUTLIER_QUANTILE, Profile, check_matrix
from embedstack.drift.stats import (
    benjamini_hochberg,
    ks_2samp,
    nearest_distances,
    permutation_tests,
    spearman,
)
from embedstack.errors import InputError
from embedstack.types import EmbeddingSpace

ALPHA = 0.05
MIN_ROWS = 5
MAX_TEST_ROWS = 1000  # rows per side in the permutation tests (their cost is quadratic)


@dataclass
class Thresholds:
    """When to call it drift. `alpha` is the false-positive rate on a same-distribution
    resample; the (b) floors are how much of the neighbourhood structure must survive."""

    alpha: float = ALPHA
    permutations: int = 200
    min_overlap: float = 0.6
    min_spearman: float = 0.7
    min_agreement: float = 0.6

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.permutations < 4 / self.alpha:
            raise InputError(
                f"{self.permutations} permutations cannot reach p < {self.alpha / 4:g}: "
                f"use at least {int(np.ceil(4 / self.alpha))}"
            )


@dataclass
class DriftReport:
    """`drift` is True when any test fired; `reasons` says which, in words."""

    drift: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The verdict, its reasons and the metrics, for JSON output."""
        return {"drift": self.drift, "reasons": list(self.reasons), "metrics": dict(self.metrics)}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom > 0 else 0.0


def _subsample(arr: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return arr if len(arr) <= cap else arr[np.sort(rng.choice(len(arr), cap, replace=False))]


def compare(
    prof: Profile,
    vectors: np.ndarray,
    space: EmbeddingSpace | None = None,
    *,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> DriftReport:
    """Test whether `vectors` come from the profiled distribution. `space` (the space
    the vectors were made in) is checked against the profile's when given."""
    if space is not None:
        prof.require_space(space)
    th = thresholds or Thresholds()
    new = check_matrix(vectors, prof.space.dim, "new vectors")
    if len(new) < MIN_ROWS:
        raise InputError(f"drift needs at least {MIN_ROWS} new vectors to compare, got {len(new)}")
    level = th.alpha / 4
    rng = np.random.default_rng(seed)
    ref = _subsample(prof.sample.astype(np.float64), MAX_TEST_ROWS, rng)
    test_new = _subsample(new.astype(np.float64), MAX_TEST_ROWS, rng)
    perm = permutation_tests(
        ref,
        test_new,
        permutations=th.permutations,
        seed=seed,
        outlier_distance=prof.outlier_distance,
    )
    _, ks_p = ks_2samp(prof.sample, new)
    ks_q = benjamini_hochberg(ks_p)
    nn = nearest_distances(new.astype(np.float64), prof.sample.astype(np.float64))
    expected = 1.0 - OUTLIER_QUANTILE
    outlier_rate = float(np.mean(nn > prof.outlier_distance))
    outlier_p = perm.outlier_p
    shifted = int(np.sum(ks_q < level))
    norms = np.linalg.norm(new, axis=1)
    metrics: dict[str, Any] = {
        "rows": len(new),
        "reference_rows": prof.count,
        "centroid_cosine_shift": max(0.0, 1.0 - _cosine(prof.mean.astype(np.float64), new.mean(0))),
        "mean_shift_p": perm.mean_p,
        "mmd2": max(0.0, perm.mmd2),
        "mmd_p": perm.mmd_p,
        "mmd_bandwidth": perm.bandwidth,
        "ks_min_q": float(ks_q.min()),
        "ks_dims_shifted": shifted,
        "ks_dims_shifted_frac": shifted / prof.space.dim,
        "outlier_rate": outlier_rate,
        "outlier_expected": round(expected, 6),
        "outlier_p": outlier_p,
        "norm_median": float(np.median(norms)),
        "reference_norm_median": prof.norm_quantiles.get("q50"),
        "alpha": th.alpha,
        "test_level": level,
    }
    reasons = []
    if perm.mmd_p < level:
        reasons.append(f"distribution changed: MMD two-sample test p={perm.mmd_p:.4f} < {level:g}")
    if perm.mean_p < level:
        reasons.append(
            f"centroid moved: cosine shift {metrics['centroid_cosine_shift']:.4f} "
            f"(p={perm.mean_p:.4f} < {level:g})"
        )
    if shifted:
        reasons.append(
            f"{shifted} of {prof.space.dim} dimensions shifted (KS, Benjamini-Hochberg "
            f"q < {level:g})"
        )
    if outlier_p < level:
        reasons.append(
            f"outliers: {outlier_rate:.0%} of new rows are farther from the reference than "
            f"{OUTLIER_QUANTILE:.0%} of the reference itself (expected {expected:.0%}, "
            f"p={outlier_p:.4f} < {level:g})"
        )
    return DriftReport(bool(reasons), reasons, metrics)


def _neighbours(vectors: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Top-k neighbours (by cosine, self excluded) of `rows` among all vectors."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit[rows] @ unit.T
    sims[np.arange(len(rows)), rows] = -np.inf
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def _top(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    return np.argsort(-(q @ unit.T), axis=1, kind="stable")[:, :k]


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def compare_spaces(
    a: np.ndarray,
    b: np.ndarray,
    *,
    queries_a: np.ndarray | None = None,
    queries_b: np.ndarray | None = None,
    k: int = 10,
    sample: int = 500,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> DriftReport:
    """(b) Two encoders on the same texts: row i of `a` and of `b` embed the same text.
    Measures neighbourhood overlap@k, Spearman correlation of pairwise similarities on
    a sample of pairs, and (given query vectors from each encoder) top-k agreement."""
    th = thresholds or Thresholds()
    va, vb = check_matrix(a, what="vectors of A"), check_matrix(b, what="vectors of B")
    if len(va) != len(vb):
        raise InputError(f"both spaces must embed the same texts: {len(va)} != {len(vb)} rows")
    if len(va) <= k:
        raise InputError(f"comparing neighbourhoods at k={k} needs more than {k} rows")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(va), min(sample, len(va)), replace=False))
    overlap = _overlap(_neighbours(va, rows, k), _neighbours(vb, rows, k))
    i, j = rng.integers(0, len(va), (2, min(20 * sample, len(va) ** 2)))
    keep = i != j
    i, j = i[keep], j[keep]

    def pair_sims(v: np.ndarray) -> np.ndarray:
        unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return np.einsum("ij,ij->i", unit[i], unit[j])

    rho = spearman(pair_sims(va), pair_sims(vb))
    metrics: dict[str, Any] = {
        "rows": len(va),
        "k": k,
        f"overlap@{k}": overlap,
        "similarity_spearman": rho,
        "dims": [va.shape[1], vb.shape[1]],
    }
    reasons = []
    if overlap < th.min_overlap:
        reasons.append(f"neighbourhoods changed: overlap@{k} {overlap:.2f} < {th.min_overlap}")
    if rho < th.min_spearman:
        reasons.append(f"similarities reordered: Spearman {rho:.2f} < {th.min_spearman}")
    if queries_a is not None and queries_b is not None:
        qa, qb = check_matrix(queries_a, va.shape[1]), check_matrix(queries_b, vb.shape[1])
        agreement = _overlap(_top(qa, va, k), _top(qb, vb, k))
        metrics[f"top{k}_agreement"] = agreement
        metrics["queries"] = len(qa)
        if agreement < th.min_agreement:
            reasons.append(
                f"search results changed: top-{k} agreement {agreement:.2f} < {th.min_agreement}"
            )
    return DriftReport(bool(reasons), reasons, metrics)
