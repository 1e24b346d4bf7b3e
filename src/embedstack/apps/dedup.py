"""Duplicate detection in three stages: exact, near (MinHash/LSH) and semantic.

Why three: exact hashing is free and certain; MinHash finds copy-edits (typos, dropped
words, boilerplate changes) without comparing every pair; embeddings find paraphrases
that share few characters. Each stage only links items the cheaper stages left apart.
Links are merged with union-find into clusters, each with one keeper.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from embedstack._optional import require, require_usearch
from embedstack.apps.dedup_thresholds import semantic_threshold
from embedstack.errors import InputError
from embedstack.progress import Progress, report
from embedstack.similarity import topk

log = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")

# Chosen by `calibrate_dedup` on the calibration half of tests/data/dedup_captions.jsonl
# (STS-B captions with injected duplicates): 0.615 (character 5-gram Jaccard, no model).
# Semantic thresholds depend on the model: see `embedstack.apps.dedup_thresholds`.
NEAR_THRESHOLD = 0.6
EMBED_BLOCK = 256  # texts embedded between two progress reports


class DupKind(str, Enum):
    """The stage that linked two items, from cheapest to loosest."""

    EXACT = "exact"
    NEAR = "near"
    SEMANTIC = "semantic"


_ORDER = {DupKind.EXACT: 0, DupKind.NEAR: 1, DupKind.SEMANTIC: 2}


@dataclass(frozen=True)
class Link:
    """Two items (by position) one stage judged duplicates, with its score."""

    a: int
    b: int
    kind: DupKind
    score: float


@dataclass
class DupCluster:
    """`kind` is the loosest stage needed to connect the cluster; `score` the weakest
    link used (1.0 for exact)."""

    keep: str
    duplicates: list[str]
    kind: DupKind
    score: float
    links: list[Link] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (one entry of the report's clusters)."""
        return {
            "keep": self.keep,
            "duplicates": self.duplicates,
            "kind": self.kind.value,
            "score": round(float(self.score), 4),
        }


def normalise(text: str) -> str:
    """What 'exactly the same' means: NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def shingles(text: str, size: int = 5) -> set[str]:
    """Character shingles of the normalised text (robust for short and long texts)."""
    norm = normalise(text)
    if len(norm) <= size:
        return {norm}
    return {norm[i : i + size] for i in range(len(norm) - size + 1)}


def exact_links(texts: Sequence[str]) -> list[Link]:
    """Links between texts equal after `normalise` (the first occurrence is linked to)."""
    first: dict[str, int] = {}
    links = []
    for i, text in enumerate(texts):
        digest = hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
        if digest in first:
            links.append(Link(first[digest], i, DupKind.EXACT, 1.0))
        else:
            first[digest] = i
    return links


def near_links(
    texts: Sequence[str], threshold: float = NEAR_THRESHOLD, num_perm: int = 128, shingle: int = 5
) -> list[Link]:
    """MinHash LSH finds candidates; the exact Jaccard of the shingle sets decides."""
    datasketch = require("datasketch", "apps", "near-duplicate detection")
    sets = [shingles(t, shingle) for t in texts]
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
    links = []
    for i, s in enumerate(sets):
        mh = datasketch.MinHash(num_perm=num_perm, seed=1)
        mh.update_batch([x.encode("utf-8") for x in s])
        for j in lsh.query(mh):
            jaccard = len(s & sets[j]) / len(s | sets[j])
            if jaccard >= threshold:
                links.append(Link(int(j), i, DupKind.NEAR, jaccard))
        lsh.insert(i, mh)
    return links


ANN_FROM = 50_000  # above this many items, semantic search uses an HNSW index


def semantic_links(
    vectors: np.ndarray,
    threshold: float,
    k: int = 10,
    block: int = 1024,
    ann: bool | None = None,
) -> list[Link]:
    """Pairs of items whose cosine similarity reaches `threshold`, among each item's k
    nearest neighbours.

    Up to `ANN_FROM` items (or `ann=False`) the search is exact and blockwise: O(n^2 d)
    work but O(block * n) memory, so tens of thousands of items need no approximation.
    Beyond that (or `ann=True`) an HNSW index (usearch, `[apps]` extra) keeps the work
    near O(n log n) at a small loss of recall."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit = vectors / norms
    n = len(unit)
    k = min(k, n - 1)
    if k <= 0:
        return []
    use_ann = n > ANN_FROM if ann is None else ann
    found = _ann_pairs(unit, threshold, k) if use_ann else _exact_pairs(unit, threshold, k, block)
    return [Link(a, b, DupKind.SEMANTIC, s) for (a, b), s in sorted(found.items())]


def _exact_pairs(
    unit: np.ndarray, threshold: float, k: int, block: int
) -> dict[tuple[int, int], float]:
    found: dict[tuple[int, int], float] = {}
    for start in range(0, len(unit), block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf  # an item is not its own duplicate
        for row in range(sims.shape[0]):
            cols = topk(sims[row], k)[0]
            i = start + row
            for j in cols:
                score = float(sims[row, j])
                if score >= threshold:
                    found[(min(i, int(j)), max(i, int(j)))] = score
    return found


def _ann_pairs(unit: np.ndarray, threshold: float, k: int) -> dict[tuple[int, int], float]:
    usearch = require_usearch("approximate semantic duplicate search")
    index = usearch.Index(ndim=unit.shape[1], metric="cos", dtype="f32", expansion_search=128)
    index.add(np.arange(len(unit)), unit)
    matches = index.search(unit, k + 1)  # +1: an item usually finds itself first
    found: dict[tuple[int, int], float] = {}
    for i, (keys, distances) in enumerate(zip(matches.keys, matches.distances, strict=True)):
        for j, distance in zip(keys, distances, strict=True):
            score = 1.0 - float(distance)  # usearch's cosine distance
            if int(j) != i and int(j) >= 0 and score >= threshold:
                found[(min(i, int(j)), max(i, int(j)))] = score
    return found


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


@dataclass
class Deduplicator:
    """Find duplicate clusters among `(id, text)` items.

    `encoder=None` skips the semantic stage. `semantic_threshold=None` uses the value
    calibrated for the encoder's space, and refuses an encoder that has none (see
    `embedstack.apps.dedup_thresholds`). `keep="first"` keeps the earliest item of a
    cluster (input order), `"longest"` the longest text.
    """

    encoder: Any = None
    near_threshold: float = NEAR_THRESHOLD
    semantic_threshold: float | None = None
    stages: tuple[str, ...] = ("exact", "near", "semantic")
    keep: str = "first"
    k: int = 10

    def __post_init__(self) -> None:
        unknown = set(self.stages) - {k.value for k in DupKind}
        if unknown:
            raise InputError(f"unknown dedup stages {sorted(unknown)}; use exact, near, semantic")
        if self.keep not in ("first", "longest"):
            raise InputError(f"keep must be 'first' or 'longest', got {self.keep!r}")
        wants_semantic = "semantic" in self.stages and self.encoder is not None
        if self.semantic_threshold is None and wants_semantic:  # refuse before any work
            self.semantic_threshold = semantic_threshold(self.encoder)

    def find(
        self, ids: Sequence[str], texts: Sequence[str], progress: Progress | None = None
    ) -> list[DupCluster]:
        """Clusters of duplicates (only groups of two or more), keeper first; `progress`
        hears `(stage, done, total)` of each stage (the embedding one text by text)."""
        if len(ids) != len(texts):
            raise InputError(f"{len(ids)} ids for {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise InputError("ids must be unique; give each document its own id")
        uf = _UnionFind(len(texts))
        used: list[Link] = []
        for link in self._links(texts, progress):
            if uf.union(link.a, link.b):
                used.append(link)
        members: dict[int, list[int]] = {}
        for i in range(len(texts)):
            members.setdefault(uf.find(i), []).append(i)
        by_root: dict[int, list[Link]] = {}
        for link in used:
            by_root.setdefault(uf.find(link.a), []).append(link)
        clusters = []
        for root, idx in sorted(members.items()):
            if len(idx) < 2:
                continue
            links = by_root[root]
            keeper = idx[0] if self.keep == "first" else max(idx, key=lambda i: len(texts[i]))
            clusters.append(
                DupCluster(
                    keep=ids[keeper],
                    duplicates=[ids[i] for i in idx if i != keeper],
                    kind=max((lk.kind for lk in links), key=_ORDER.__getitem__),
                    score=min(lk.score for lk in links),
                    links=links,
                )
            )
        return clusters

    def _links(self, texts: Sequence[str], progress: Progress | None = None) -> list[Link]:
        """Cheap stages first; inside a stage, strongest links first, so each cluster's
        reported kind and score come from the best evidence that connects it."""
        links: list[Link] = []
        if "exact" in self.stages:
            links += exact_links(texts)
        if "near" in self.stages:
            report(progress, "near duplicates", 0, len(texts))
            links += sorted(near_links(texts, self.near_threshold), key=lambda lk: -lk.score)
            report(progress, "near duplicates", len(texts), len(texts))
        if "semantic" in self.stages and self.encoder is not None:
            threshold = self.semantic_threshold
            if threshold is None:  # the encoder was set after construction
                threshold = self.semantic_threshold = semantic_threshold(self.encoder)
            vectors = _embed(self.encoder, list(texts), progress)
            found = semantic_links(vectors, threshold, k=self.k)
            links += sorted(found, key=lambda lk: -lk.score)
        log.info("dedup: %d candidate links among %d items", len(links), len(texts))
        return links


def _embed(encoder: Any, texts: list[str], progress: Progress | None) -> np.ndarray:
    """Document vectors, embedded in blocks so a long run reports its progress."""
    parts = []
    report(progress, "embedding", 0, len(texts))
    for start in range(0, len(texts), EMBED_BLOCK):
        parts.append(encoder.encode(texts[start : start + EMBED_BLOCK], kind="document"))
        report(progress, "embedding", min(start + EMBED_BLOCK, len(texts)), len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, encoder.space.dim), np.float32)
