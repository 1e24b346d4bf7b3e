"""The few special functions and statistics embedstack needs, in plain numpy.

scipy (~140 MB installed) is not a core dependency: `erf` (exact GELU in the SPLADE head),
`rankdata`, `pearson` and `spearman` (STS evaluation) are small enough to keep here, and
the tests check them against scipy.
"""

from __future__ import annotations

import numpy as np

# Cephes (ndtr.c) rational approximations: erf on |x| <= 1, erfc on 1 < |x| < 8 and
# |x| >= 8; relative error ~1e-16 in double precision.
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)  # fmt: skip
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)  # fmt: skip
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)  # fmt: skip
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)  # fmt: skip
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)  # fmt: skip
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)  # fmt: skip


def _poly(x: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """Horner's rule, highest power first."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def erf(x: np.ndarray | float) -> np.ndarray:
    """The error function, elementwise; float32 in -> float32 out, else float64."""
    arr = np.asarray(x)
    out_dtype = np.float32 if arr.dtype == np.float32 else np.float64
    x64 = arr.astype(np.float64)
    ax = np.minimum(np.abs(x64), 30.0)  # erfc(30) underflows to 0: no inf/inf below
    small = ax <= 1.0
    xs = np.where(small, x64, 0.0)
    inner = xs * _poly(xs * xs, _T) / _poly(xs * xs, _U)
    with np.errstate(under="ignore"):
        rational = np.where(ax < 8.0, _poly(ax, _P) / _poly(ax, _Q), _poly(ax, _R) / _poly(ax, _S))
        erfc = np.exp(-ax * ax) * rational
    outer = np.sign(x64) * (1.0 - erfc)
    return np.where(small, inner, outer).astype(out_dtype)


def rankdata(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's `method="average"`)."""
    a = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    starts = np.concatenate([[True], sorted_a[1:] != sorted_a[:-1]])
    group = np.cumsum(starts) - 1
    bounds = np.flatnonzero(np.concatenate([starts, [True]]))
    average = (bounds[:-1] + bounds[1:] + 1) / 2.0  # mean of 1-based positions per group
    ranks = np.empty(a.size)
    ranks[order] = average[group]
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; nan when either input is constant (as scipy)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    nx, ny = np.linalg.norm(dx), np.linalg.norm(dy)
    if nx == 0.0 or ny == 0.0:
        return float("nan")
    return float(np.clip(np.dot(dx / nx, dy / ny), -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    return pearson(rankdata(x), rankdata(y))
