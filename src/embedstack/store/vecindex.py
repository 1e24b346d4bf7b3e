"""Vector indexes inside a collection: settings, the shared base, and exact compressed scan.

A vector index is a secondary index (store/indexes.py) whose `add` takes
`(rows, vectors)`: the collection feeds it the same rows and vectors it commits, and
saves it into a fresh folder in the same transaction. Two kinds exist:

- `compressed` (ann="exact"): every candidate is scored from compressed codes in RAM;
- `hnsw` (ann="hnsw", store/hnsw.py): a usearch graph over the compressed vectors.

Both hand their best `candidates` rows to a rescoring stage (store/vector_search.py)
that re-ranks them with full-precision vectors: the float32 segments memory-mapped on
disk (`rescore="float32"`) or int8 codes kept in RAM (`rescore="int8"`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import InputError
from embedstack.similarity import topk
from embedstack.store.compress import (
    RESCORES,
    STORAGES,
    Codes,
    check_choice,
    truncate,
    warn_matryoshka,
)
from embedstack.store.indexes import index_class
from embedstack.store.sealed import seal, verify
from embedstack.types import EmbeddingSpace

ANN_KINDS = ("exact", "hnsw")
OWN_MODEL = "own-vectors"
METRICS = ("cosine", "dot", "euclidean")


@dataclass
class VectorSettings:
    """What every vector index records in the manifest (`cls(**config)` rebuilds it)."""

    storage: str = "float32"
    rescore: str = "float32"
    metric: str = "cosine"
    dims: int | None = None  # Matryoshka: keep the first `dims` dimensions
    candidates: int | None = None  # rows handed to rescoring; None: by storage (below)

    def __post_init__(self) -> None:
        check_choice(self.storage, STORAGES, "storage")
        check_choice(self.rescore, RESCORES, "rescore")
        check_choice(self.metric, METRICS, "metric")
        if self.dims is not None and int(self.dims) <= 0:
            raise InputError(f"dims must be a positive number of dimensions, got {self.dims}")
        if self.candidates is not None and int(self.candidates) <= 0:
            raise InputError(f"candidates must be positive, got {self.candidates}")

    def candidate_count(self, k: int) -> int:
        """Rows a search hands to rescoring for top-k. Without rescoring, k. float16 (and
        float32) codes order rows almost exactly, so 2k lets rescoring fix the border and
        stays within a graph walk's beam (ef_search 64; asking usearch for 100 widens the
        walk itself: 5,286 vs 6,411 queries/s at 200k x 384); int8 and binary codes are
        coarse, so at least 100 (or 4k). An explicit `candidates` gets at least 4k."""
        if self.rescore == "none":
            return k
        if self.candidates is not None:
            return max(int(self.candidates), 4 * k)
        if self.storage in ("float32", "float16"):
            return 2 * k
        return max(100, 4 * k)

    @property
    def code_metric(self) -> str:
        """The metric on prepared vectors: cosine vectors are renormalised, so dot."""
        # Cosine vectors are renormalised before encoding, so cosine is a dot product.
        return "dot" if self.metric == "cosine" else self.metric


def vector_index_asked(ann: str, storage: str | None, rescore: str | None) -> bool:
    """Whether `ann`/`storage`/`rescore` differ from the defaults: they choose the vector
    index of a new embedded collection, so an existing one or a PostgreSQL one refuses."""
    return (ann, storage, rescore) != ("exact", None, None)


def default_storage(ann: str) -> str:
    """Storage when none is given: float32 for the exact scan; float16 codes for an HNSW
    graph, with float32 rescoring, so hits carry exact float32 scores. Measured at 200k
    x 384 (usearch 2.26, 2 cores): a float16 graph walks 1.7x faster than a float32 one
    at the same recall@10 and builds 1.4x faster in half the RAM (docs/benchmarks.md)."""
    return "float16" if ann == "hnsw" else "float32"


def vector_index_config(
    ann: str,
    storage: str | None,
    rescore: str | None,
    metric: str,
    settings: dict[str, Any] | None,
) -> tuple[str, dict[str, Any]] | None:
    """(index name, config) for `Collection.create(ann=..., storage=..., rescore=...)`, or
    None when the plain float32 exact scan is what was asked for."""
    check_choice(ann, ANN_KINDS, "ann")
    storage = default_storage(ann) if storage is None else storage
    check_choice(storage, STORAGES, "storage")
    if rescore is None:
        rescore = "none" if storage == "float32" else "float32"
    check_choice(rescore, RESCORES, "rescore")
    extra = dict(settings or {})
    if ann == "exact" and storage == "float32" and not extra.get("dims"):
        return None
    config = {"storage": storage, "rescore": rescore, "metric": metric, **extra}
    name = "hnsw" if ann == "hnsw" else "compressed"
    return name, config


def own_space(dim: int) -> EmbeddingSpace:
    """The space of vectors embedstack did not make: only their dimension is known."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise InputError(f"dim must be a positive integer, got {dim!r}")
    return EmbeddingSpace(model=OWN_MODEL, dim=dim, normalize=False)


def create_vector_config(
    encoder: Encoder | None,
    dim: int | None,
    configs: dict[str, Any],
    metric: str,
    *,
    ann: str,
    storage: str | None,
    rescore: str | None,
    settings: dict[str, Any] | None,
) -> tuple[EmbeddingSpace, dict[str, Any]]:
    """The space and index configs of a new collection (`Collection.create`)."""
    space = own_space(dim) if encoder is None else encoder.space  # type: ignore[arg-type]
    if dim is not None and dim != space.dim:
        raise InputError(
            f"dim={dim} but the encoder {space.model!r} makes {space.dim}-dimensional "
            "vectors: drop dim, or give an encoder of that dimension"
        )
    chosen = vector_index_config(ann, storage, rescore, metric, settings)
    if chosen is not None:
        name, config = chosen
        try:
            index = index_class(name)(**config)  # validates every setting now
        except TypeError as exc:
            raise InputError(f"unknown setting for the {name} index: {exc}") from None
        warn_matryoshka(space.model, index.settings.dims, space.dim)
        configs = {**configs, name: index.config()}
    return space, configs


def members(rows: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Which of `rows` are in the sorted array `allowed` (a binary search per row: a
    filter of half a million rows is not re-sorted for every query, as `np.isin` does)."""
    if len(allowed) == 0:
        return np.zeros(len(rows), dtype=bool)
    at = np.minimum(np.searchsorted(allowed, rows), len(allowed) - 1)
    return np.asarray(allowed[at] == rows)


def rebuild_hint(directory: Path, name: str) -> str:
    """How to rebuild the index kept in `directory` (Python and CLI)."""
    collection = directory.parent.parent
    return (
        f"`Collection.open({str(collection)!r}).rebuild_index({name!r})` in Python, or "
        f"`embedstack index YOUR_VECTORS --into {collection} --rebuild-indexes`"
    )


class VectorIndexBase:
    """Settings, query preparation and the optional int8 rescoring codes."""

    name = "vectors"
    takes_vectors = True

    def __init__(self, **settings: Any) -> None:
        self.settings = VectorSettings(**settings)
        self.rescore_codes: Codes | None = None
        if self.settings.rescore == "int8":
            self.rescore_codes = Codes("int8", self.settings.code_metric)

    def config(self) -> dict[str, Any]:
        """The settings, as saved in the manifest."""
        return asdict(self.settings)

    @property
    def rescore(self) -> str:
        """How candidates are rescored: none, float32 or int8."""
        return self.settings.rescore

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as the codes see them: truncated, renormalised for cosine."""
        return truncate(vectors, self.settings.dims, self.settings.metric == "cosine")

    def prepare_full(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as the int8 rescoring codes see them: all dimensions."""
        return truncate(vectors, None, self.settings.metric == "cosine")

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Store the int8 rescoring codes of new rows (when rescoring with int8)."""
        if self.rescore_codes is not None and len(rows):
            self.rescore_codes.add(rows, self.prepare_full(vectors))

    def delete(self, rows: np.ndarray) -> None:
        """Forget rows in the rescoring codes."""
        if self.rescore_codes is not None:
            self.rescore_codes.delete(rows)

    def candidates(
        self, query: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` (rows, approximate scores), only rows in `allowed` if given."""
        raise NotImplementedError

    def candidates_many(
        self, queries: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`candidates` of each query (an index that can batch them overrides this)."""
        return [self.candidates(query, count, allowed) for query in queries]

    def rescore_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scores of `rows` from the int8 rescoring codes."""
        assert self.rescore_codes is not None
        return self.rescore_codes.scores(self.prepare_full(query), rows)

    def _save_rescore(self, directory: Path) -> None:
        if self.rescore_codes is not None:
            self.rescore_codes.save(directory, "rescore")

    def _load_rescore(self, directory: Path) -> None:
        if self.rescore_codes is not None and (directory / "rescore.json").exists():
            self.rescore_codes = Codes.load(directory, "rescore")

    @property
    def bytes_per_vector(self) -> float:
        """RAM per vector of the in-memory part (codes, plus int8 rescoring codes)."""
        extra = self.rescore_codes.bytes_per_vector if self.rescore_codes is not None else 0.0
        return self._own_bytes() + extra

    def _own_bytes(self) -> float:
        raise NotImplementedError


class CompressedIndex(VectorIndexBase):
    """Exact search over compressed codes (no graph): every allowed row is scored."""

    name = "compressed"

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.codes = Codes(self.settings.storage, self.settings.code_metric)

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Store codes of new rows."""
        if len(rows):
            self.codes.add(rows, self.prepare(vectors))
        super().add(rows, vectors)

    def delete(self, rows: np.ndarray) -> None:
        """Forget rows."""
        self.codes.delete(rows)
        super().delete(rows)

    def candidates(
        self, query: np.ndarray, count: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `count` best rows by the codes (all of `allowed` is scanned: exact)."""
        if allowed is not None:
            allowed = allowed[allowed < self.codes.present.shape[0]]
        values = self.codes.scores(self.prepare(query), allowed)
        best, top = topk(values, count)
        rows = best if allowed is None else allowed[best]
        keep = np.isfinite(top)
        return rows[keep], top[keep]

    def _own_bytes(self) -> float:
        return self.codes.bytes_per_vector

    def save(self, directory: Path) -> None:
        """Write the codes and seal the folder with checksums."""
        self.codes.save(directory, "codes")
        self._save_rescore(directory)
        seal(directory, self.name)

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any]) -> CompressedIndex:
        """Verify the seal, then read the codes."""
        verify(directory, cls.name, rebuild_hint(directory, cls.name))
        index = cls(**config)
        index.codes = Codes.load(directory, "codes")
        index._load_rescore(directory)
        return index
