"""Fuse the ranked lists of several retrievers into one: RRF and weighted linear fusion.

Every function here is pure: it takes `{retriever name: [Hit, ...]}` (each list best
first) and returns new hits whose `stages` keep each retriever's raw score and rank plus
the fused score and rank, so a user can always see why a document ended up where it did.

Linear fusion normalises each retriever's scores *per query* before mixing them, because
raw scales differ (cosine in [-1, 1], BM25 unbounded) and also drift from query to query.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.types import Hit

Rankings = Mapping[str, Sequence[Hit]]
FUSION_STAGE = "fusion"


class Normalization(str, Enum):
    """How a retriever's scores for one query are put on a common scale.

    - `minmax`: (s - min) / (max - min) into [0, 1].
    - `zscore`: (s - mean) / std.
    - `dbsf`: distribution-based score fusion (as in Qdrant): min-max between
      mean - 3 std and mean + 3 std, clipped to [0, 1]; robust to one outlier score.
    """

    MINMAX = "minmax"
    ZSCORE = "zscore"
    DBSF = "dbsf"

    @classmethod
    def parse(cls, value: str | Normalization) -> Normalization:
        """A `Normalization` from its name (or itself); unknown names are refused."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise InputError(f"unknown normalization {value!r}: choose one of {choices}") from None


def normalise_scores(
    scores: np.ndarray | Sequence[float], method: str | Normalization
) -> np.ndarray:
    """Per-query normalisation of one retriever's scores (float64, same order).

    Lists whose scores are all equal carry no ordering signal: min-max maps them to 1
    (they were still retrieved), z-score to 0 and DBSF to 0.5.
    """
    method = Normalization.parse(method)
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return values
    if not np.all(np.isfinite(values)):
        raise InputError("scores to normalise contain NaN or infinity: check the retriever")
    if method is Normalization.MINMAX:
        low, high = values.min(), values.max()
        if high == low:
            return np.ones_like(values)
        return (values - low) / (high - low)
    mean, std = values.mean(), values.std()
    if method is Normalization.ZSCORE:
        return np.zeros_like(values) if std == 0 else (values - mean) / std
    if std == 0:
        return np.full_like(values, 0.5)
    low, high = mean - 3 * std, mean + 3 * std
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def check_weights(weights: Mapping[str, float] | None, names: Sequence[str]) -> dict[str, float]:
    """Validate per-retriever weights against the retriever names; default to equal weights."""
    if not names:
        raise InputError("fusion needs at least one retriever")
    if weights is None:
        return dict.fromkeys(names, 1.0)
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise InputError(
            f"weights name unknown retrievers {unknown}; the retrievers are {list(names)}"
        )
    for name, value in weights.items():
        if not math.isfinite(value) or value < 0:
            raise InputError(f"weight for {name!r} must be a finite number >= 0, got {value!r}")
    full = {name: float(weights.get(name, 0.0)) for name in names}
    if sum(full.values()) <= 0:
        raise InputError(
            f"fusion weights must sum to something positive, got {dict(weights)}: "
            "give at least one retriever a weight > 0"
        )
    return full


def _collect(rankings: Rankings) -> tuple[dict[str, Hit], dict[str, dict[str, dict[str, float]]]]:
    """First-seen hit per id (for text/metadata) and each id's per-retriever score/rank."""
    first: dict[str, Hit] = {}
    stages: dict[str, dict[str, dict[str, float]]] = {}
    for name, hits in rankings.items():
        seen: set[str] = set()
        for rank, hit in enumerate(hits, start=1):
            if hit.id in seen:
                raise InputError(f"retriever {name!r} returned document {hit.id!r} twice")
            seen.add(hit.id)
            first.setdefault(hit.id, hit)
            stages.setdefault(hit.id, {})[name] = {"score": float(hit.score), "rank": rank}
    return first, stages


def _finish(
    first: dict[str, Hit],
    stages: dict[str, dict[str, dict[str, float]]],
    fused: dict[str, float],
    k: int | None,
) -> list[Hit]:
    """Sort by fused score; ties go to the better best-rank, then the id (deterministic)."""

    def best_rank(doc_id: str) -> float:
        return min(s["rank"] for s in stages[doc_id].values())

    order = sorted(fused, key=lambda d: (-fused[d], best_rank(d), d))
    if k is not None:
        order = order[:k]
    out = []
    for rank, doc_id in enumerate(order, start=1):
        src = first[doc_id]
        merged = {name: dict(values) for name, values in src.stages.items()}
        merged.update(stages[doc_id])
        merged[FUSION_STAGE] = {"score": fused[doc_id], "rank": rank}
        out.append(Hit(doc_id, fused[doc_id], src.text, dict(src.metadata), merged))
    return out


def _check_k(k: int | None) -> None:
    if k is not None and k <= 0:
        raise InputError(f"k must be a positive number of results, got {k}")


def rrf(
    rankings: Rankings,
    k: int = 60,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Hit]:
    """Reciprocal rank fusion: score(d) = sum_r w_r / (k + rank_r(d)).

    Only ranks matter, so no normalisation is needed; `k` damps the advantage of the very
    top ranks (60 in the original paper). `limit` keeps the best `limit` fused hits.
    """
    if k <= 0:
        raise InputError(f"RRF k must be > 0, got {k} (60 is the usual choice)")
    _check_k(limit)
    full = check_weights(weights, list(rankings))
    first, stages = _collect(rankings)
    fused = {
        doc_id: sum(full[name] / (k + s["rank"]) for name, s in per.items())
        for doc_id, per in stages.items()
    }
    return _finish(first, stages, fused, limit)


def linear(
    rankings: Rankings,
    weights: Mapping[str, float] | None = None,
    normalization: str | Normalization = Normalization.MINMAX,
    limit: int | None = None,
) -> list[Hit]:
    """Convex combination of per-query normalised scores: sum_r w_r * norm_r(d) / sum_r w_r.

    A document missing from a retriever's list contributes 0 for it: the bottom of the
    min-max and DBSF scales, and "no evidence either way" (the list's mean) for z-score.
    Treating it as average rather than as the worst is what keeps z-score fusion robust
    when one retriever returns short or noisy lists (see docs/benchmarks.md). Each
    retriever's stage records its normalised score too.
    """
    method = Normalization.parse(normalization)
    _check_k(limit)
    full = check_weights(weights, list(rankings))
    total = sum(full.values())
    first, stages = _collect(rankings)
    fused = dict.fromkeys(stages, 0.0)
    for name, hits in rankings.items():
        norm = normalise_scores([h.score for h in hits], method)
        by_id = {h.id: float(v) for h, v in zip(hits, norm, strict=True)}
        for doc_id in fused:
            value = by_id.get(doc_id, 0.0)
            fused[doc_id] += full[name] / total * value
            if doc_id in by_id:
                stages[doc_id][name]["normalized"] = value
    return _finish(first, stages, fused, limit)


@dataclass
class RRF:
    """Reciprocal rank fusion as a pipeline stage with a JSON-able config."""

    k: int = 60
    weights: dict[str, float] | None = None
    kind: str = field(default="rrf", init=False)

    def __post_init__(self) -> None:
        if self.k <= 0:
            raise InputError(f"RRF k must be > 0, got {self.k} (60 is the usual choice)")

    def fuse(self, rankings: Rankings, limit: int | None = None) -> list[Hit]:
        """Fused hits, best first, each with a `fusion` stage entry."""
        return rrf(rankings, k=self.k, weights=self.weights, limit=limit)

    def config(self) -> dict[str, Any]:
        """JSON-able settings (`fusion_from_config` reads them back)."""
        return {"kind": self.kind, "k": self.k, "weights": self.weights}


@dataclass
class LinearFusion:
    """Weighted linear fusion of normalised scores as a pipeline stage."""

    weights: dict[str, float] | None = None
    normalization: Normalization = Normalization.MINMAX
    kind: str = field(default="linear", init=False)

    def __post_init__(self) -> None:
        self.normalization = Normalization.parse(self.normalization)
        if self.weights is not None:
            check_weights(self.weights, list(self.weights))

    def fuse(self, rankings: Rankings, limit: int | None = None) -> list[Hit]:
        """Fused hits, best first, each with a `fusion` stage entry."""
        return linear(rankings, self.weights, self.normalization, limit=limit)

    def config(self) -> dict[str, Any]:
        """JSON-able settings (`fusion_from_config` reads them back)."""
        return {
            "kind": self.kind,
            "weights": self.weights,
            "normalization": self.normalization.value,
        }


Fusion = RRF | LinearFusion


def fusion_from_config(config: Mapping[str, Any]) -> Fusion:
    """Rebuild a fusion stage from its `config()` dict."""
    values = dict(config)
    kind = values.pop("kind", None)
    try:
        if kind == "rrf":
            return RRF(**values)
        if kind == "linear":
            return LinearFusion(**values)
    except TypeError as exc:
        raise InputError(f"bad {kind} fusion config {dict(config)}: {exc}") from None
    raise InputError(f"unknown fusion kind {kind!r}: expected 'rrf' or 'linear'")
