"""Compressed copies of a collection's vectors: float16, int8, binary, Matryoshka.

The float32 `.npy` segments stay on disk, memory-mapped, as the full-precision truth;
the compressed codes are what a search keeps in RAM. `Codes` holds one code row per
collection row (row ids are positions), scores a query against them, and saves itself as
plain `.npy` files sealed with a checksum (see `store/sealed.py`).

The quantisation math is pure functions (`calibrate_int8`, `quantize_int8`, `binarize`,
`hamming`, `truncate`), easy to test and reuse outside a collection.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedstack.errors import InputError
from embedstack.similarity import Metric

log = logging.getLogger(__name__)

STORAGES = ("float32", "float16", "int8", "binary")
RESCORES = ("none", "float32", "int8")
_BLOCK = 65536  # rows decoded at a time when scoring, so decoding never needs all of RAM
# Models trained with a Matryoshka loss, whose leading dimensions carry meaning alone.
MATRYOSHKA_MODELS = ("nomic-embed-text-v1.5", "text-embedding-3", "mxbai-embed-large", "matryoshka")


def check_choice(value: str, valid: tuple[str, ...], what: str) -> str:
    """Refuse an unknown name, listing the valid ones."""
    if value not in valid:
        raise InputError(f"unknown {what} {value!r}: choose one of {', '.join(valid)}")
    return value


def truncate(vectors: np.ndarray, dims: int | None, normalize: bool) -> np.ndarray:
    """Keep the first `dims` dimensions (Matryoshka) and renormalise when asked (cosine)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if dims is not None:
        arr = arr[..., :dims]
    if normalize:
        norms = np.linalg.norm(arr, axis=-1, keepdims=True)
        norms[norms == 0] = 1.0
        arr = arr / norms
    return np.ascontiguousarray(arr, dtype=np.float32)


def warn_matryoshka(model: str, dims: int | None, dim: int) -> None:
    """Truncating a model not trained for it loses quality fast: say so once."""
    if dims is None or dims >= dim:
        return
    if not any(name in model.lower() for name in MATRYOSHKA_MODELS):
        log.warning(
            "truncating %r from %d to %d dimensions, but it is not known to be trained for "
            "Matryoshka truncation: check the quality loss with `embedstack compress-report`",
            model,
            dim,
            dims,
        )


def calibrate_int8(vectors: np.ndarray, quantile: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (low, high) ranges from the data, ignoring the extreme 0.1% tails."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.shape[0] == 0:
        raise InputError("int8 calibration needs at least one vector")
    lo = np.quantile(arr, quantile, axis=0).astype(np.float32)
    hi = np.quantile(arr, 1.0 - quantile, axis=0).astype(np.float32)
    hi = np.where(hi - lo < 1e-12, lo + 1e-6, hi).astype(np.float32)
    return lo, hi


def quantize_int8(vectors: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map each dimension's [lo, hi] onto -128..127 (values outside are clipped)."""
    scaled = (np.asarray(vectors, dtype=np.float32) - lo) / (hi - lo) * 255.0 - 128.0
    return np.clip(np.rint(scaled), -128, 127).astype(np.int8)


def dequantize_int8(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The inverse of `quantize_int8` (to within half a step)."""
    return (codes.astype(np.float32) + 128.0) / 255.0 * (hi - lo) + lo


def binarize(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (positive or not), packed 8 to a byte."""
    return np.packbits(np.asarray(vectors) > 0, axis=-1)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(query_bits: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Number of differing bits between one packed query and each packed row."""
    diff = np.bitwise_xor(codes, query_bits[None, :])
    counts = np.bitwise_count(diff) if hasattr(np, "bitwise_count") else _POPCOUNT[diff]
    return counts.sum(axis=1, dtype=np.int32)


@dataclass
class Codes:
    """One compressed code per collection row, plus what decoding needs (int8 ranges)."""

    storage: str
    metric: str  # "dot" for cosine: vectors are renormalised before encoding
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    data: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    present: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def bytes_per_vector(self) -> float:
        """RAM per stored code."""
        return float(self.data.shape[1] * self.data.itemsize) if self.data.size else 0.0

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """Codes of prepared vectors (int8 calibrates its ranges on the first call)."""
        if self.storage == "float32":
            return np.asarray(vectors, dtype=np.float32)
        if self.storage == "float16":
            return np.asarray(vectors, dtype=np.float16)
        if self.storage == "binary":
            return binarize(vectors)
        if self.lo is None or self.hi is None:
            self.lo, self.hi = calibrate_int8(vectors)
        return quantize_int8(vectors, self.lo, self.hi)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes back to float32 (binary codes are not decoded: Hamming instead)."""
        if self.storage == "int8":
            assert self.lo is not None and self.hi is not None
            return dequantize_int8(codes, self.lo, self.hi)
        return codes.astype(np.float32)

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Store codes for rows (the prepared vectors: truncated, normalised for cosine)."""
        codes = self.encode(vectors)
        size = int(rows.max()) + 1 if len(rows) else 0
        if self.data.size == 0 or self.data.dtype != codes.dtype:
            self.data = np.zeros((0, codes.shape[1]), dtype=codes.dtype)
        if size > self.data.shape[0]:
            grown = np.zeros((max(size, self.data.shape[0] * 5 // 4), codes.shape[1]), codes.dtype)
            grown[: self.data.shape[0]] = self.data
            self.data = grown
            present = np.zeros(grown.shape[0], dtype=bool)
            present[: self.present.shape[0]] = self.present
            self.present = present
        self.data[rows] = codes
        self.present[rows] = True

    def delete(self, rows: np.ndarray) -> None:
        """Forget rows (their codes stay until the index is rebuilt)."""
        rows = rows[rows < self.present.shape[0]]
        self.present[rows] = False

    def scores(self, query: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """Larger-is-better scores of a prepared query against `rows` (None: every row;
        rows without a code score -inf)."""
        from embedstack.store.flat import block_scores

        data = self.data if rows is None else self.data[rows]
        if self.storage == "binary":
            out = -hamming(binarize(query), data).astype(np.float32)
        else:
            metric = Metric(self.metric)
            parts = [
                block_scores(self.decode(data[i : i + _BLOCK]), query, metric)
                for i in range(0, data.shape[0], _BLOCK)
            ]
            out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            out = out.astype(np.float32, copy=False)
        if rows is None:
            out[~self.present] = -np.inf
        return out

    def save(self, directory: Path, prefix: str) -> None:
        """Write codes, presence mask and ranges as `<prefix>.npy/.json` files."""
        np.save(directory / f"{prefix}.npy", self.data, allow_pickle=False)
        np.save(directory / f"{prefix}-present.npy", self.present, allow_pickle=False)
        ranges = None if self.lo is None else [self.lo.tolist(), self.hi.tolist()]  # type: ignore[union-attr]
        info = {"storage": self.storage, "metric": self.metric, "ranges": ranges}
        (directory / f"{prefix}.json").write_text(json.dumps(info), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, prefix: str) -> Codes:
        """Read what `save` wrote."""
        info = json.loads((directory / f"{prefix}.json").read_text(encoding="utf-8"))
        ranges = info.get("ranges")
        return cls(
            storage=check_choice(info["storage"], STORAGES, "storage"),
            metric=str(info["metric"]),
            lo=None if ranges is None else np.asarray(ranges[0], dtype=np.float32),
            hi=None if ranges is None else np.asarray(ranges[1], dtype=np.float32),
            data=np.load(directory / f"{prefix}.npy", allow_pickle=False),
            present=np.load(directory / f"{prefix}-present.npy", allow_pickle=False),
        )
