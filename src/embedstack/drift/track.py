"""Drift tracking for a collection: its profile and snapshots live in `<collection>/drift/`.

The store owns `manifest.json`, `store.sqlite*`, `vectors/` and `indexes/` and its
orphan cleanup only looks inside the last two, so `drift/` is ours. Collections are
used through their public API only (ids, content_hashes, get, space, encoder).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedstack.drift.compare import MIN_ROWS, DriftReport, Thresholds, compare, compare_spaces
from embedstack.drift.profile import (
    SAMPLE_SIZE,
    Profile,
    digests,
    from_parts,
    load_profile,
    row_digests,
    save_profile,
)
from embedstack.drift.snapshots import append_snapshot
from embedstack.errors import InputError
from embedstack.progress import Progress, report
from embedstack.store.collection import Collection
from embedstack.types import Kind

log = logging.getLogger(__name__)
DRIFT_DIR = "drift"
BATCH = 4096
MAX_COMPARED = 5000  # new rows compared per run (a seeded random subset beyond that)
_QUERY_WORDS = 12


def drift_dir(collection: Collection) -> Path:
    """Folder inside the collection where drift profiles and snapshots live."""
    return Path(collection.path) / DRIFT_DIR


@dataclass
class TrackResult:
    """A run's report, and what happened (`profiled`: a profile was built this run;
    `compared`: a comparison ran and a snapshot was appended)."""

    report: DriftReport
    profiled: bool = False
    compared: bool = False
    message: str = ""


def _vectors(
    collection: Collection, ids: Sequence[str], progress: Progress | None, stage: str
) -> np.ndarray:
    parts = []
    for start in range(0, len(ids), BATCH):
        records = collection.get(list(ids[start : start + BATCH]))
        parts.append(np.stack([r.vector for r in records]) if records else None)
        report(progress, stage, min(start + BATCH, len(ids)), len(ids))
    kept = [p for p in parts if p is not None]
    return np.concatenate(kept) if kept else np.zeros((0, collection.space.dim), np.float32)


def _seen(collection: Collection, ids: list[str]) -> np.ndarray:
    hashes = collection.content_hashes(ids)
    present = [i for i in ids if i in hashes]
    return digests(present, [hashes[i] for i in present])


def build_profile(
    collection: Collection,
    *,
    sample_size: int = SAMPLE_SIZE,
    seed: int = 0,
    progress: Progress | None = None,
    save: bool = True,
) -> Profile:
    """Profile every row of `collection` (read in batches) and save it in `drift/`."""
    ids = collection.ids()
    if len(ids) < 3:
        raise InputError(
            f"{collection.path} has {len(ids)} rows: a drift profile needs at least 3; "
            "add data first"
        )
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(ids), min(sample_size, len(ids)), replace=False).tolist())
    dim = collection.space.dim
    total, total_sq = np.zeros(dim), np.zeros(dim)
    norms: list[np.ndarray] = []
    sample: list[np.ndarray] = []
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        vecs = _vectors(collection, batch, None, "profile").astype(np.float64)
        total += vecs.sum(0)
        total_sq += (vecs**2).sum(0)
        norms.append(np.linalg.norm(vecs, axis=1))
        sample.extend(vecs[n] for n in range(len(batch)) if start + n in chosen)
        report(progress, "profile", min(start + BATCH, len(ids)), len(ids))
    prof = from_parts(
        collection.space,
        count=len(ids),
        total=total,
        total_sq=total_sq,
        norms=np.concatenate(norms),
        sample=np.stack(sample),
        seed=seed,
        seen=_seen(collection, ids),
    )
    if save:
        save_profile(drift_dir(collection), prof)
        log.info("drift profile of %s: %d rows, sample %d", collection.path, len(ids), len(sample))
    return prof


def _cap(ids: list[str], seed: int) -> list[str]:
    if len(ids) <= MAX_COMPARED:
        return ids
    rng = np.random.default_rng(seed)
    return [ids[i] for i in np.sort(rng.choice(len(ids), MAX_COMPARED, replace=False))]


def new_rows(collection: Collection, prof: Profile) -> list[str]:
    """Ids added, or whose text changed, since the profile was taken."""
    ids = collection.ids()
    hashes = collection.content_hashes(ids)
    present = [i for i in ids if i in hashes]
    fresh = ~np.isin(row_digests(present, [hashes[i] for i in present]), prof.seen)
    return [present[n] for n in np.flatnonzero(fresh)]


def track(
    collection: Collection,
    against: Collection | Sequence[str] | None = None,
    *,
    thresholds: Thresholds | None = None,
    rebuild: bool = False,
    seed: int = 0,
    source: str = "",
    progress: Progress | None = None,
) -> TrackResult:
    """One drift run. `against` None: the rows added since the profile; a list of texts:
    embedded with the collection's encoder; a Collection of the same space: its rows; of
    another space: comparison (b) on the ids both hold. The profile is built first when
    there is none (or `rebuild`); every comparison appends a snapshot."""
    prof = None if rebuild else load_profile(drift_dir(collection))
    if prof is not None:
        prof.require_space(collection.space, str(drift_dir(collection)))
    if isinstance(against, Collection) and against.space != collection.space:
        result = _compare_collections(
            collection, against, thresholds=thresholds, seed=seed, progress=progress
        )
        append_snapshot(drift_dir(collection), result, source or str(against.path))
        return TrackResult(result, compared=True, message="compared two embedding spaces")
    profiled = prof is None
    if prof is None:
        prof = build_profile(collection, seed=seed, progress=progress)
        if against is None:
            done = "rebuilt the drift profile" if rebuild else "no drift profile yet: built one"
            msg = f"{done} from {prof.count} rows; run again after adding data"
            return TrackResult(DriftReport(False, [], prof.summary()), True, False, msg)
    if against is None:
        ids = new_rows(collection, prof)
        if len(ids) < MIN_ROWS:
            msg = f"{len(ids)} rows added since the profile: nothing to compare yet"
            metrics = {"rows": len(ids), "reference_rows": prof.count}
            return TrackResult(DriftReport(False, [], metrics), False, False, msg)
        vectors = _vectors(collection, _cap(ids, seed), progress, "read new rows")
        what = f"{len(ids)} rows added since the profile"
    elif isinstance(against, Collection):
        vectors = _vectors(against, _cap(against.ids(), seed), progress, "read rows")
        what = f"{len(against)} rows of {against.path}"
    else:
        texts = list(against)
        if len(texts) < MIN_ROWS:
            raise InputError(f"drift needs at least {MIN_ROWS} texts to compare, got {len(texts)}")
        report(progress, "embed", 0, len(texts))
        vectors = collection.encoder.encode(texts, Kind.DOCUMENT)
        report(progress, "embed", len(texts), len(texts))
        what = f"{len(texts)} texts"
    result = compare(prof, vectors, collection.space, thresholds=thresholds, seed=seed)
    append_snapshot(drift_dir(collection), result, source or what)
    built = f"built the drift profile from {prof.count} rows, then " if profiled else ""
    return TrackResult(result, profiled, True, f"{built}compared {what} with the reference")


def _compare_collections(
    a: Collection,
    b: Collection,
    *,
    thresholds: Thresholds | None,
    seed: int,
    progress: Progress | None,
    sample: int = 2000,
    queries: int = 50,
) -> DriftReport:
    """(b): two spaces on the texts both collections hold under the same id."""
    shared = sorted(set(a.ids()) & set(b.ids()))
    rng = np.random.default_rng(seed)
    if len(shared) > sample:
        shared = [shared[i] for i in np.sort(rng.choice(len(shared), sample, replace=False))]
    ra = {r.id: r for r in a.get(shared)}
    rb = {r.id: r for r in b.get(shared)}
    same = [i for i in shared if i in ra and i in rb and ra[i].text == rb[i].text]
    if len(same) <= 10:
        raise InputError(
            f"{a.path} and {b.path} are in different embedding spaces and share only "
            f"{len(same)} ids with the same text: comparing two encoders needs more than 10"
        )
    report(progress, "compare spaces", 0, 2)
    va = np.stack([ra[i].vector for i in same])
    vb = np.stack([rb[i].vector for i in same])
    picked = [same[i] for i in rng.choice(len(same), min(queries, len(same)), replace=False)]
    texts = [" ".join(ra[i].text.split()[:_QUERY_WORDS]) for i in picked]
    qa = a.encoder.encode(texts, Kind.QUERY)
    qb = b.encoder.encode(texts, Kind.QUERY)
    report(progress, "compare spaces", 1, 2)
    result = compare_spaces(va, vb, queries_a=qa, queries_b=qb, thresholds=thresholds, seed=seed)
    result.metrics["space_diff"] = a.space.diff(b.space)
    report(progress, "compare spaces", 2, 2)
    return result
