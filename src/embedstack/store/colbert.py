"""ColBERT as a first-stage secondary index of a collection (rows -> compressed tokens).

It satisfies the `embedstack.store.indexes` protocol: the collection hands it row ids
and texts, it encodes them with the ColBERT checkpoint named in its config and keeps the
token vectors in a `LateIndex`, which records the encoder's `EmbeddingSpace`. Loading
refuses an encoder of another space, so new weights in the checkpoint folder are never
mixed into vectors of the old ones. Query time is ONNX Runtime for the query plus numpy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from embedstack import atomic
from embedstack.encoders.colbert import ColbertEncoder
from embedstack.errors import CollectionError, InputError
from embedstack.store.late import LateIndex, LateIndexConfig
from embedstack.store.spaces import require_space
from embedstack.types import Kind

FORMAT_VERSION = 2  # 2: colbert.json {"format", "config"}; late.json records the space
REBUILD_HINT = (
    "run `embedstack index YOUR_FILES --into COLLECTION --rebuild-indexes` (rebuilds it "
    "from the stored texts), or in Python `Collection.open(path).rebuild_index('colbert')`."
)


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
        self.model = str(model)
        self.encoder = ColbertEncoder(model, batch_size=batch_size)
        self.batch_size = batch_size
        self.late = LateIndex(
            LateIndexConfig(
                dim=self.encoder.dim, compression=compression, nprobe=nprobe, candidates=candidates
            ),
            self.encoder.space,
        )
        self.rows = np.zeros(0, np.int64)

    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild an empty index like this one."""
        c = self.late.config
        return {
            "model": self.model,
            "compression": c.compression,
            "nprobe": c.nprobe,
            "candidates": c.candidates,
            "batch_size": self.batch_size,
        }

    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        """Encode and index `texts` under the collection's row ids `rows`."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) != len(texts):
            raise InputError(f"colbert add: {len(rows)} rows but {len(texts)} texts")
        present = np.isin(rows, self.rows[self.late.alive]) if len(self.rows) else None
        if present is not None and present.any():
            raise InputError(f"colbert add: rows {rows[present][:10].tolist()} already indexed")
        self.late.add(self.encoder.encode(texts, Kind.DOCUMENT))
        self.rows = np.concatenate([self.rows, rows])

    def delete(self, rows: np.ndarray) -> None:
        """Tombstone `rows`; all must be indexed, or nothing is deleted."""
        positions = np.flatnonzero(np.isin(self.rows, rows) & self.late.alive)
        if len(positions) != len(np.unique(rows)):
            raise InputError("colbert delete: some rows are not in the index; nothing deleted")
        self.late.delete(positions)

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k row ids and MaxSim scores, best first, among `allowed` rows if given."""
        (q,) = self.encoder.encode([query], Kind.QUERY)
        positions = None if allowed is None else np.flatnonzero(np.isin(self.rows, allowed))
        found, scores = self.late.search(q, k, positions)
        return self.rows[found], scores

    @property
    def nbytes(self) -> int:
        """Memory held by the compressed vectors and row ids."""
        return self.late.nbytes + self.rows.nbytes

    def save(self, directory: Path) -> None:
        """Write the index into `directory`, every file atomically."""
        directory = Path(directory)
        self.late.save(directory / "late")
        atomic.write_npy(directory / "rows.npy", self.rows)
        atomic.write_json(
            directory / "colbert.json", {"format": FORMAT_VERSION, "config": self.config()}
        )

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any] | None = None) -> ColbertIndex:
        """Open a saved index; refuses other settings or another embedding space."""
        directory = Path(directory)
        meta = directory / "colbert.json"
        if not meta.is_file():
            raise CollectionError(f"{directory} has no colbert.json; {REBUILD_HINT}")
        data = json.loads(meta.read_text(encoding="utf-8"))
        if "format" not in data:  # format 1: the bare config, and no recorded space
            saved, version = data, 1
        else:
            saved, version = data["config"], int(data["format"])
        if version > FORMAT_VERSION:
            raise CollectionError(f"{meta} was written by a newer embedstack: upgrade it")
        if config is not None and dict(config) != saved:
            raise CollectionError(
                f"the colbert index in {directory} was built with {saved}, but the collection "
                f"asks for {config}; {REBUILD_HINT}"
            )
        index = cls(**saved)
        late = LateIndex.load(directory / "late")
        what = f"ColBERT index in {directory}"
        require_space(late.space if version > 1 else None, index.encoder.space, what, REBUILD_HINT)
        index.late = late
        index.rows = np.load(directory / "rows.npy")
        return index
