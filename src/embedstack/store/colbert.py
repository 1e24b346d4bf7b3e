"""ColBERT as a first-stage secondary index of a collection (rows -> compressed tokens).

It satisfies the `embedstack.store.indexes` protocol: the collection hands it row ids
and texts, it encodes them with the ColBERT checkpoint named in its config and keeps the
token vectors in a `LateIndex`. Query time is ONNX Runtime for the query plus numpy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import CollectionError, InputError
from embedstack.store.late import LateIndex, LateIndexConfig
from embedstack.types import Kind

REBUILD_HINT = "re-create the collection's colbert index from its texts"


class ColbertIndex:
    """Secondary index `colbert`; `model` is a ColBERT checkpoint folder."""

    name = "colbert"

    def __init__(
        self,
        model: str | None = None,
        compression: str = "residual",
        nprobe: int = 8,
        candidates: int = 256,
        batch_size: int = 32,
    ) -> None:
        if not model:
            raise InputError(
                "the colbert index needs a model: give {'model': '/path/to/colbert-checkpoint'} "
                "as its config"
            )
        from embedstack.encoders.colbert import ColbertEncoder

        self.model = str(model)
        self.encoder = ColbertEncoder(model, batch_size=batch_size)
        self.batch_size = batch_size
        self.late = LateIndex(
            LateIndexConfig(
                dim=self.encoder.dim, compression=compression, nprobe=nprobe, candidates=candidates
            )
        )
        self.rows = np.zeros(0, np.int64)

    def config(self) -> dict[str, Any]:
        c = self.late.config
        return {
            "model": self.model,
            "compression": c.compression,
            "nprobe": c.nprobe,
            "candidates": c.candidates,
            "batch_size": self.batch_size,
        }

    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) != len(texts):
            raise InputError(f"colbert add: {len(rows)} rows but {len(texts)} texts")
        present = np.isin(rows, self.rows[self.late.alive]) if len(self.rows) else None
        if present is not None and present.any():
            raise InputError(f"colbert add: rows {rows[present][:10].tolist()} already indexed")
        self.late.add(self.encoder.encode(texts, Kind.DOCUMENT))
        self.rows = np.concatenate([self.rows, rows])

    def delete(self, rows: np.ndarray) -> None:
        positions = np.flatnonzero(np.isin(self.rows, rows) & self.late.alive)
        if len(positions) != len(np.unique(rows)):
            raise InputError("colbert delete: some rows are not in the index; nothing deleted")
        self.late.delete(positions)

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        (q,) = self.encoder.encode([query], Kind.QUERY)
        positions = None if allowed is None else np.flatnonzero(np.isin(self.rows, allowed))
        found, scores = self.late.search(q, k, positions)
        return self.rows[found], scores

    @property
    def nbytes(self) -> int:
        return self.late.nbytes + self.rows.nbytes

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        self.late.save(directory / "late")
        np.save(directory / "rows.npy", self.rows)
        (directory / "colbert.json").write_text(json.dumps(self.config(), indent=2))

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any] | None = None) -> ColbertIndex:
        directory = Path(directory)
        meta = directory / "colbert.json"
        if not meta.is_file():
            raise CollectionError(f"{directory} has no colbert.json; {REBUILD_HINT}")
        saved = json.loads(meta.read_text())
        if config is not None and dict(config) != saved:
            raise CollectionError(
                f"the colbert index in {directory} was built with {saved}, but the collection "
                f"asks for {config}; {REBUILD_HINT}"
            )
        index = cls(**saved)
        index.late = LateIndex.load(directory / "late")
        index.rows = np.load(directory / "rows.npy")
        return index
