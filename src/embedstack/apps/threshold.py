"""Choosing a score threshold from labelled examples instead of guessing one.

Used by dedup (is this pair a duplicate?) and FAQ (is the best match a real answer?).
Both reduce to: given scores of positive and negative examples, pick the cut that
best separates them, and report how well it does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from embedstack.errors import InputError


@dataclass(frozen=True)
class Calibration:
    """A threshold and how it did on the examples it was chosen on."""

    threshold: float
    precision: float
    recall: float
    f1: float
    positives: int
    negatives: int
    method: str = "max-f1"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def pr_at(threshold: float, positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """Precision and recall of `score >= threshold` as the positive decision."""
    tp = int((positives >= threshold).sum())
    fp = int((negatives >= threshold).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(positives) if len(positives) else 1.0
    return precision, recall


def calibrate(
    positive_scores: np.ndarray | list[float],
    negative_scores: np.ndarray | list[float],
    *,
    min_precision: float | None = None,
) -> Calibration:
    """The threshold with the best F1 (or, with `min_precision`, the best recall among
    thresholds reaching that precision). Ties go to the higher, safer threshold; the
    cut is placed midway between neighbouring scores so it is not fitted to one point."""
    pos = np.asarray(positive_scores, dtype=np.float64)
    neg = np.asarray(negative_scores, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        raise InputError(
            "calibration needs both positive and negative examples "
            f"(got {pos.size} positive, {neg.size} negative); add labelled pairs"
        )
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate([(values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    best: tuple[float, float, float, float] | None = None  # (key, threshold, p, r)
    for t in candidates[::-1]:
        p, r = pr_at(float(t), pos, neg)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if min_precision is not None and p < min_precision:
            continue
        key = r if min_precision is not None else f1
        if best is None or key > best[0]:
            best = (key, float(t), p, r)
    if best is None:
        raise InputError(
            f"no threshold reaches precision {min_precision}; lower it or add cleaner examples"
        )
    _, threshold, p, r = best
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    method = f"max-recall@precision>={min_precision}" if min_precision is not None else "max-f1"
    return Calibration(threshold, p, r, f1, int(pos.size), int(neg.size), method)
