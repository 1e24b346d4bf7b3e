"""A reference profile: what the vectors of one embedding space looked like at one time.

Centroid, per-dimension mean and variance, the norm distribution, and a fixed seeded
random sample of vectors (the two-sample tests run against it), plus the nearest-
neighbour distance below which 95% of the sample lies (the outlier threshold). The
profile records its space, so it is never compared with vectors of another space.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedstack import atomic
from embedstack.drift.stats import nearest_distances
from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.types import EmbeddingSpace

PROFILE = "profile.json"
SAMPLE_SIZE = 2000
OUTLIER_QUANTILE = 0.95
_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


@dataclass
class Profile:
    """Summary of a set of vectors in one space. `seen` holds 64-bit digests of the
    (id, content hash) pairs profiled, so later runs can tell which rows are new."""

    space: EmbeddingSpace
    count: int
    mean: np.ndarray
    var: np.ndarray
    norm_quantiles: dict[str, float]
    sample: np.ndarray
    outlier_distance: float
    created: float = field(default_factory=time.time)
    seed: int = 0
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    @property
    def centroid(self) -> np.ndarray:
        """Mean vector of the profiled embeddings."""
        return self.mean

    def require_space(self, space: EmbeddingSpace, where: str = "") -> None:
        """Refuse vectors of another space, naming each differing field (the diff of
        `EmbeddingSpace.require_same`)."""
        differences = self.space.diff(space)
        if differences:
            place = f" in {where}" if where else ""
            raise SpaceMismatchError(
                f"the drift profile{place} was made in another embedding space ("
                + "; ".join(differences)
                + "): compare vectors of the profile's space, or rebuild the profile "
                "(`embedstack drift DIR --rebuild-profile`)"
            )

    def summary(self) -> dict[str, Any]:
        """Headline facts about the profile (rows, sample size, space, thresholds)."""
        return {
            "rows": self.count,
            "sample": len(self.sample),
            "created": self.created,
            "space_key": self.space.key(),
            "model": self.space.model,
            "norm_quantiles": self.norm_quantiles,
            "outlier_distance": self.outlier_distance,
        }


def check_matrix(vectors: np.ndarray, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    """A finite float (n, d) array, or a clear error."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-d array (rows, dim), got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise InputError(f"{what} have dimension {arr.shape[1]}, the profile has {dim}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} contain NaN or infinite values")
    return arr


def row_digests(ids: list[str], hashes: list[str]) -> np.ndarray:
    """64-bit digests of (id, content hash) pairs, aligned with `ids`."""
    import hashlib

    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(f"{i}\0{h}".encode(), digest_size=8).digest(), "little")
            for i, h in zip(ids, hashes, strict=True)
        ),
        dtype=np.uint64,
        count=len(ids),
    )


def digests(ids: list[str], hashes: list[str]) -> np.ndarray:
    """Sorted unique digests of (id, content hash) pairs: what a profile has seen."""
    return np.unique(row_digests(ids, hashes))


def profile(
    vectors: np.ndarray,
    space: EmbeddingSpace,
    *,
    sample_size: int = SAMPLE_SIZE,
    seed: int = 0,
    seen: np.ndarray | None = None,
) -> Profile:
    """Profile `vectors` (n, d) made in `space`. Needs at least 3 rows (the outlier
    threshold is a leave-one-out nearest-neighbour distance)."""
    arr = check_matrix(vectors, space.dim)
    if len(arr) < 3:
        raise InputError(f"a drift profile needs at least 3 vectors, got {len(arr)}")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(arr), min(sample_size, len(arr)), replace=False))
    return from_parts(
        space,
        count=len(arr),
        total=arr.astype(np.float64).sum(0),
        total_sq=(arr.astype(np.float64) ** 2).sum(0),
        norms=np.linalg.norm(arr, axis=1),
        sample=arr[pick],
        seed=seed,
        seen=seen,
    )


def from_parts(
    space: EmbeddingSpace,
    *,
    count: int,
    total: np.ndarray,
    total_sq: np.ndarray,
    norms: np.ndarray,
    sample: np.ndarray,
    seed: int = 0,
    seen: np.ndarray | None = None,
) -> Profile:
    """A profile from streamed sums (so a large collection is read in batches)."""
    mean = total / count
    var = np.maximum(total_sq / count - mean**2, 0.0)
    loo = nearest_distances(sample, sample, leave_one_out=True)
    quantiles = np.quantile(norms, _QUANTILES)
    return Profile(
        space=space,
        count=count,
        mean=mean.astype(np.float32),
        var=var.astype(np.float32),
        norm_quantiles={
            f"q{int(q * 100):02d}": float(v) for q, v in zip(_QUANTILES, quantiles, strict=True)
        },
        sample=np.asarray(sample, dtype=np.float32),
        outlier_distance=float(np.quantile(loo, OUTLIER_QUANTILE)),
        seed=seed,
        seen=np.zeros(0, dtype=np.uint64) if seen is None else seen,
    )


def save_profile(folder: str | Path, prof: Profile) -> Path:
    """Write the profile under `folder` durably: arrays first under fresh names, then
    the JSON that names them (the commit point), then old arrays are removed."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]
    arrays = {"stats": np.stack([prof.mean, prof.var]), "sample": prof.sample, "seen": prof.seen}
    names = {key: f"profile-{key}-{tag}.npy" for key in arrays}
    for key, arr in arrays.items():
        atomic.write_npy(root / names[key], arr)
    meta = {
        "format": 1,
        "space": prof.space.to_dict(),
        "space_key": prof.space.key(),
        "count": prof.count,
        "norm_quantiles": prof.norm_quantiles,
        "outlier_distance": prof.outlier_distance,
        "created": prof.created,
        "seed": prof.seed,
        "files": names,
    }
    atomic.write_json(root / PROFILE, meta)
    for old in root.glob("profile-*.npy"):
        if old.name not in names.values():
            atomic.remove(old)
    return root / PROFILE


def load_profile(folder: str | Path) -> Profile | None:
    """The profile saved under `folder`, or None when there is none yet. A profile
    replaced while it is read (its old arrays removed) is read again once."""
    root = Path(folder)
    if not (root / PROFILE).exists():
        return None
    try:
        try:
            return _read(root)
        except FileNotFoundError:
            return _read(root)  # replaced while being read: read the new one
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectionError(
            f"the drift profile in {root} is unreadable ({exc}): delete {root / PROFILE} "
            "and run `embedstack drift` again to rebuild it"
        ) from None


def _read(root: Path) -> Profile:
    import json

    meta = json.loads((root / PROFILE).read_text(encoding="utf-8"))
    files = meta["files"]
    stats = np.load(root / files["stats"], allow_pickle=False)
    prof = Profile(
        space=EmbeddingSpace.from_dict(meta["space"]),
        count=int(meta["count"]),
        mean=stats[0],
        var=stats[1],
        norm_quantiles={k: float(v) for k, v in meta["norm_quantiles"].items()},
        sample=np.load(root / files["sample"], allow_pickle=False),
        outlier_distance=float(meta["outlier_distance"]),
        created=float(meta["created"]),
        seed=int(meta.get("seed", 0)),
        seen=np.load(root / files["seen"], allow_pickle=False),
    )
    if meta.get("space_key") != prof.space.key():
        raise ValueError("space key mismatch: the profile was edited or is damaged")
    return prof
