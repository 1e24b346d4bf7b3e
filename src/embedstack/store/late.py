"""Late-interaction (ColBERT-style) scoring and a compressed multi-vector index.

`similarity.maxsim` is the exact score: for each query token, the best-matching
document token, summed. `LateIndex` makes it a first-stage retriever for up to ~100k
passages without faiss: every token vector is stored as the id of its nearest k-means
centroid plus an int8 residual (about d + 2 bytes a token instead of 4d), candidates
come from the centroids nearest each query token (an inverted list centroid ->
documents, pruned with centroid-only scores), and only those candidates get exact
MaxSim on the decompressed vectors. Everything is plain numpy arrays that `save` writes
as `.npy` + JSON, with the `EmbeddingSpace` of the token vectors, so an index is never
searched or extended with vectors of another model (see `store.spaces`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from embedstack import atomic
from embedstack.errors import CollectionError, InputError
from embedstack.similarity import segment_maxsim
from embedstack.store.spaces import read_space
from embedstack.types import EmbeddingSpace

log = logging.getLogger(__name__)

_ASSIGN_CHUNK = 16384


def kmeans(vectors: np.ndarray, n_clusters: int, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """Spherical k-means (unit-norm centroids, dot-product assignment) in numpy.

    Token vectors are L2-normalised, so cosine is the right geometry. Initialised with
    a random sample of distinct points; empty clusters are re-seeded from random points.
    """
    rng = np.random.default_rng(seed)
    n = vectors.shape[0]
    n_clusters = max(1, min(n_clusters, n))
    centroids = vectors[rng.choice(n, n_clusters, replace=False)].copy()
    for _ in range(iterations):
        labels = assign(vectors, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, vectors)
        counts = np.bincount(labels, minlength=n_clusters)
        empty = counts == 0
        sums[empty] = vectors[rng.choice(n, int(empty.sum()))]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = sums / np.maximum(norms, 1e-12)
    return centroids.astype(np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest (largest dot product) centroid of every vector, in chunks."""
    out = np.empty(vectors.shape[0], dtype=np.int64)
    for start in range(0, vectors.shape[0], _ASSIGN_CHUNK):
        block = vectors[start : start + _ASSIGN_CHUNK]
        out[start : start + len(block)] = np.argmax(block @ centroids.T, axis=1)
    return out


@dataclass(frozen=True)
class LateIndexConfig:
    """Knobs of the compressed index; defaults suit 1k-100k passages.

    `n_centroids` 0 picks ~4 * sqrt(tokens) (a power of two, at most 16384);
    `nprobe` centroids are probed per query token; `candidates` documents survive the
    centroid-only scoring and get exact MaxSim.
    """

    dim: int
    compression: str = "residual"
    n_centroids: int = 0
    nprobe: int = 8
    candidates: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.compression not in ("residual", "int8"):
            raise InputError(f"compression must be 'residual' or 'int8', got {self.compression!r}")
        if self.dim <= 0 or self.nprobe <= 0 or self.candidates <= 0 or self.n_centroids < 0:
            raise InputError(f"late-interaction index settings must be positive: {self}")


class LateIndex:
    """Compressed token vectors + centroid inverted lists; rows are document positions.

    `space` is the embedding space of the token vectors (None for vectors of unknown
    origin); it is saved with the index and its `dim` must equal the config's.
    """

    def __init__(self, config: LateIndexConfig, space: EmbeddingSpace | None = None) -> None:
        if space is not None and space.dim != config.dim:
            raise InputError(f"the index has dim {config.dim} but the space has {space.dim}")
        self.config = config
        self.space = space
        d = config.dim
        self.centroids = np.zeros((0, d), np.float32)
        self.codes = np.zeros(0, np.int32)
        self.residuals = np.zeros((0, d), np.int8)
        self.scale = np.ones(d, np.float32)
        self.lengths = np.zeros(0, np.int64)
        self.alive = np.zeros(0, bool)

    def __len__(self) -> int:
        return int(self.alive.sum())

    @property
    def nbytes(self) -> int:
        """Bytes held by the centroids and the compressed token vectors."""
        arrays = (self.centroids, self.codes, self.residuals, self.scale, self.lengths)
        return sum(a.nbytes for a in arrays) + self.alive.nbytes

    def add(self, docs: Sequence[np.ndarray]) -> np.ndarray:
        """Append documents (each a (tokens, dim) array); returns their row numbers.

        The first call trains the centroids (and the residual scale) on its vectors;
        later calls reuse them, so build with a representative first batch.
        """
        for doc in docs:
            if doc.ndim != 2 or doc.shape[1] != self.config.dim:
                raise InputError(
                    f"document token matrix must be (tokens, {self.config.dim}), got {doc.shape}"
                )
        rows = np.arange(len(self.lengths), len(self.lengths) + len(docs))
        if not docs:
            return rows
        tokens = np.concatenate(docs).astype(np.float32)
        if len(self.centroids) == 0:
            self._train(tokens)
        codes = assign(tokens, self.centroids)
        self.codes = np.concatenate([self.codes, codes.astype(np.int32)])
        self.residuals = np.concatenate([self.residuals, self._encode(tokens, codes)])
        self.lengths = np.concatenate([self.lengths, [d.shape[0] for d in docs]])
        self.alive = np.concatenate([self.alive, np.ones(len(docs), bool)])
        self._build_lists()
        return rows

    def delete(self, rows: np.ndarray) -> None:
        """Tombstone rows: they are never returned again (space is kept)."""
        self.alive[np.asarray(rows, dtype=np.int64)] = False

    def _train(self, tokens: np.ndarray) -> None:
        n = self.config.n_centroids or 2 ** int(math.log2(max(4 * math.sqrt(len(tokens)), 1)))
        n = min(n, 16384, len(tokens))
        rng = np.random.default_rng(self.config.seed)
        sample = tokens[rng.choice(len(tokens), min(len(tokens), 256 * n), replace=False)]
        log.info("training %d centroids on %d token vectors", n, len(sample))
        self.centroids = kmeans(sample, n, seed=self.config.seed)
        if self.config.compression == "residual":
            residual = sample - self.centroids[assign(sample, self.centroids)]
        else:
            residual = sample
        self.scale = np.maximum(np.abs(residual).max(axis=0), 1e-6).astype(np.float32) / 127.0

    def _encode(self, tokens: np.ndarray, codes: np.ndarray) -> np.ndarray:
        base = self.centroids[codes] if self.config.compression == "residual" else 0.0
        return np.clip(np.rint((tokens - base) / self.scale), -127, 127).astype(np.int8)

    def _build_lists(self) -> None:
        """CSR inverted lists centroid -> documents that have a token there."""
        doc_of_token = np.repeat(np.arange(len(self.lengths)), self.lengths)
        pairs = np.unique(self.codes.astype(np.int64) * len(self.lengths) + doc_of_token)
        centroid, doc = np.divmod(pairs, len(self.lengths))
        self._list_docs = doc
        self._list_offsets = np.searchsorted(centroid, np.arange(len(self.centroids) + 1))
        self._offsets = np.concatenate([[0], np.cumsum(self.lengths)])

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by exact MaxSim among centroid-generated candidates."""
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        if len(self.lengths) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(query, np.float32)
        centroid_sims = query @ self.centroids.T  # (q, C)
        nprobe = min(self.config.nprobe, len(self.centroids))
        probed = np.unique(np.argpartition(-centroid_sims, nprobe - 1, axis=1)[:, :nprobe])
        candidates = np.unique(
            np.concatenate(
                [self._list_docs[self._list_offsets[c] : self._list_offsets[c + 1]] for c in probed]
            )
        )
        mask = self.alive[candidates]
        if allowed is not None:
            mask &= np.isin(candidates, allowed)
        candidates = candidates[mask]
        if len(candidates) > self.config.candidates:
            candidates = candidates[self._prune(centroid_sims, candidates)]
        tokens, lengths = self._gather(candidates)
        scores = segment_maxsim(query, self._decode(tokens), lengths)
        order = np.lexsort((candidates, -scores))[:k]
        return candidates[order], scores[order]

    def _gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token positions of `rows`, back to back, and each row's token count."""
        lengths = self.lengths[rows]
        starts = self._offsets[rows]
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum())) + shift, lengths

    def _decode(self, tokens: np.ndarray) -> np.ndarray:
        vectors = self.residuals[tokens].astype(np.float32) * self.scale
        if self.config.compression == "residual":
            vectors += self.centroids[self.codes[tokens]]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _prune(self, centroid_sims: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Keep the candidates whose centroid-only MaxSim is highest (PLAID's first pass)."""
        tokens, lengths = self._gather(candidates)
        approx = np.zeros(len(candidates), np.float32)
        nonempty = lengths > 0
        if nonempty.any():
            sims = centroid_sims[:, self.codes[tokens]].T  # (T, q)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
            approx[nonempty] = np.maximum.reduceat(sims, starts, axis=0).sum(axis=1)
        return np.argsort(-approx, kind="stable")[: self.config.candidates]

    def save(self, directory: Path) -> None:
        """Plain `.npy` files + `late.json` (config and space), each written atomically."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("centroids", "codes", "residuals", "scale", "lengths", "alive"):
            atomic.write_npy(directory / f"{name}.npy", getattr(self, name))
        space = None if self.space is None else self.space.to_dict()
        atomic.write_json(directory / "late.json", {**asdict(self.config), "space": space})

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> LateIndex:
        """Open a saved index (arrays memory-mapped); `space` is what it recorded."""
        meta = directory / "late.json"
        if not meta.exists():
            raise CollectionError(
                f"{directory} holds no late-interaction index (no late.json): rebuild it"
            )
        data = json.loads(meta.read_text(encoding="utf-8"))
        hint = "rebuild the index from its texts"
        space = read_space(data.pop("space", None), str(meta), hint)
        index = cls(LateIndexConfig(**data), space)
        mode: Literal["r"] | None = "r" if mmap else None
        for name in ("centroids", "codes", "residuals", "scale", "lengths"):
            setattr(index, name, np.load(directory / f"{name}.npy", mmap_mode=mode))
        index.alive = np.array(np.load(directory / "alive.npy"))
        if len(index.lengths):
            index._build_lists()
        return index
