"""Choosing and checking dedup thresholds on labelled examples.

`calibrate_dedup` picks a stage's threshold from texts labelled with their duplicate
group (what `embedstack dedup --calibrate FILE` runs); `pairwise_pr` scores predicted
clusters against gold groups; `pair_scores` gives cosines of given pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from embedstack.apps.dedup import DupCluster, shingles
from embedstack.apps.threshold import Calibration, calibrate
from embedstack.errors import InputError


def pair_scores(encoder: Any, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Cosine similarity of each (a, b) pair, for threshold calibration."""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    a = encoder.encode([p[0] for p in pairs], kind="document")
    b = encoder.encode([p[1] for p in pairs], kind="document")
    return np.sum(a * b, axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
    )


def pairwise_pr(clusters: Sequence[DupCluster], groups: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of predicted clusters against gold groups
    (`groups[id] = group label`; ids sharing a label are duplicates)."""
    predicted = set()
    for c in clusters:
        members = sorted([c.keep, *c.duplicates])
        predicted |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    by_group: dict[str, list[str]] = {}
    for item, grp in groups.items():
        by_group.setdefault(grp, []).append(item)
    gold = set()
    for group in by_group.values():
        ordered = sorted(group)
        gold |= {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]}
    tp = len(predicted & gold)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(gold) if gold else 1.0
    return precision, recall


def calibrate_dedup(
    texts: Sequence[str],
    groups: Sequence[str],
    *,
    stage: str = "semantic",
    encoder: Any = None,
    min_precision: float | None = None,
) -> Calibration:
    """Choose a stage's threshold from a small labelled sample (`groups[i]` names the
    duplicate group of `texts[i]`).

    Positives are all pairs inside a group; negatives are, for each item, its most
    similar item from another group (the hard cases a threshold must reject)."""
    if stage == "semantic":
        if encoder is None:
            raise InputError("semantic calibration needs an encoder")
        vectors = encoder.encode(list(texts), kind="document")
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sims = (vectors / norms) @ (vectors / norms).T
    elif stage == "near":
        sets = [shingles(t) for t in texts]
        sims = np.array([[len(a & b) / len(a | b) for b in sets] for a in sets])
    else:
        raise InputError(f"calibrate a 'semantic' or 'near' threshold, not {stage!r}")
    labels = np.asarray(groups)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    positives = sims[same & upper]
    other = np.where(same, -np.inf, sims)
    negatives = other.max(axis=1)
    return calibrate(positives, negatives[np.isfinite(negatives)], min_precision=min_precision)
