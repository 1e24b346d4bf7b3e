"""Inverted index of learned sparse vectors (SPLADE) with dot-product scoring.

Same segment storage and update semantics as the BM25 index (`store.postings`): adds
write a small segment, deletes are tombstones, merges are geometric. Term ids are the
model's vocabulary ids, so there is no vocabulary file. `splade.json` records the
encoder settings and its `EmbeddingSpace` (weights fingerprint, tokenizer, limits): at
load time both must match, so new weights in the model folder are refused, not mixed in.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from embedstack import atomic
from embedstack.encoders.kinds import SparseEncoder
from embedstack.encoders.splade import SpladeEncoder
from embedstack.errors import CollectionError, InputError
from embedstack.store.postings import (
    PostingStore,
    allowed_mask,
    check_rows,
    index_error,
    load_json,
    top_k,
)
from embedstack.store.spaces import read_space, require_space
from embedstack.text.analysis import EmptyQueryWarning
from embedstack.types import SparseVector

FORMAT_VERSION = 2  # 2: records the encoder's embedding space
REBUILD_HINT = (
    "run `embedstack index YOUR_FILES --into COLLECTION --rebuild-indexes` (rebuilds it "
    "from the stored texts), or in Python `Collection.open(path).rebuild_index('splade')`."
)


class SpladeIndex:
    """A SPLADE secondary index keyed by the collection's integer row ids.

    Args:
        encoder: a `SparseEncoder` (e.g. `SpladeEncoder`); or give `model` (a masked-LM
            folder) plus encoder options and a `SpladeEncoder` is loaded.
    """

    name = "splade"

    def __init__(self, encoder: SparseEncoder | None = None, **encoder_config: Any) -> None:
        if encoder is None:
            if "model" not in encoder_config:
                raise InputError(
                    "a SPLADE index needs a model (a Hugging Face *ForMaskedLM folder): "
                    "pass model='path/to/folder'; for a collection use "
                    "`collection.rebuild_index('splade', {'model': 'path/to/folder'})` or "
                    "`embedstack index FILES --into COLLECTION --splade path/to/folder`"
                )
            encoder = SpladeEncoder.from_config(encoder_config)
        self.encoder = encoder
        self.postings = PostingStore(self.name)
        self.n_docs = 0

    def config(self) -> dict[str, Any]:
        """The encoder settings (`SpladeIndex(**config)` rebuilds an empty index)."""
        return dict(self.encoder.config())

    def __len__(self) -> int:
        return self.n_docs

    # -- updates ----------------------------------------------------------------------
    def add(self, rows: np.ndarray, texts: list[str]) -> None:
        """Encode `texts` as documents and index them under the row ids `rows`."""
        rows = check_rows(rows, "splade add")
        if len(rows) != len(texts):
            raise InputError(f"splade add: {len(rows)} rows but {len(texts)} texts")
        self.add_vectors(rows, self.encoder.encode(texts, "document"))

    def add_vectors(self, rows: np.ndarray, vectors: list[SparseVector]) -> None:
        """Index precomputed document vectors (e.g. encoded elsewhere)."""
        rows = check_rows(rows, "splade add")
        present = self.postings.contains(rows)
        if present.any():
            raise InputError(
                f"splade add: rows {rows[present][:10].tolist()} are already indexed; "
                "use upsert() to replace them"
            )
        if len(rows) == 0:
            return
        lengths = [len(v.indices) for v in vectors]
        terms = np.concatenate([v.indices for v in vectors]).astype(np.int64)
        values = np.concatenate([v.values for v in vectors]).astype(np.float32)
        if len(terms) and (terms.min() < 0 or terms.max() >= self.encoder.vocab_size):
            raise InputError("splade add: term ids outside the model's vocabulary")
        self.postings.add(
            rows,
            rows=np.repeat(rows, lengths),
            terms=terms,
            values=values,
            n_terms=self.encoder.vocab_size,
        )
        self.n_docs += len(rows)

    def delete(self, rows: np.ndarray) -> None:
        """Tombstone `rows`; all must be indexed, or nothing is deleted."""
        rows = check_rows(rows, "splade delete")
        self.postings.require_present(rows, "splade delete", REBUILD_HINT)
        if len(rows):
            self.postings.remove(rows)
            self.n_docs -= len(rows)

    def upsert(self, rows: np.ndarray, texts: list[str]) -> None:
        """Replace the documents of `rows` (adding those not indexed yet)."""
        rows = check_rows(rows, "splade upsert")
        self.delete(rows[self.postings.contains(rows)])
        self.add(rows, texts)

    def compact(self) -> None:
        """Merge all segments into one, dropping deleted documents."""
        self.postings.compact(self.encoder.vocab_size)

    # -- search -----------------------------------------------------------------------
    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by dot product with the encoded query, best first."""
        if k <= 0:
            raise InputError(f"k must be a positive number of hits, got {k}")
        if not query.strip():
            warnings.warn(
                "the SPLADE query is empty, so nothing can match; give a query text",
                EmptyQueryWarning,
                stacklevel=2,
            )
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        (vector,) = self.encoder.encode([query], "query")
        return self.search_vector(vector, k, allowed)

    def search_vector(
        self, vector: SparseVector, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by dot product with a query vector, best first."""
        rows, values, weights = self.postings.postings(
            vector.indices.astype(np.int64), vector.values.astype(np.float64)
        )
        size = len(self.postings.generation)
        scores = np.bincount(rows, weights=weights * values, minlength=size)
        if allowed is not None:
            scores[~allowed_mask(allowed, size)] = 0.0
        return top_k(scores, k)

    # -- persistence --------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write postings and `splade.json` (settings, space, counts) into `directory`."""
        directory = Path(directory)
        self.postings.save(directory)
        atomic.write_json(
            directory / "splade.json",
            {
                "format": FORMAT_VERSION,
                "config": self.config(),
                "space": self.encoder.space.to_dict(),
                "n_docs": self.n_docs,
                "postings": self.postings.state(),
            },
        )
        self.postings.remove_stale_files(directory)

    @classmethod
    def load(
        cls,
        directory: Path,
        config: dict[str, Any] | None = None,
        encoder: SparseEncoder | None = None,
    ) -> SpladeIndex:
        """Open a saved index; refuses other settings or another embedding space."""
        directory = Path(directory)
        fail = index_error("SPLADE", REBUILD_HINT)
        meta = load_json(directory / "splade.json", fail)
        try:
            if int(meta.get("format", 1)) > FORMAT_VERSION:
                fail(directory / "splade.json", "written by a newer embedstack: upgrade it")
            saved = meta["config"]
            if config is not None and dict(config) != saved:
                raise CollectionError(
                    f"the SPLADE index in {directory} was built with {saved}, but the "
                    f"collection asks for {config}. Rebuild it: {REBUILD_HINT}"
                )
            recorded = read_space(meta.get("space"), str(directory / "splade.json"), REBUILD_HINT)
            index = cls(encoder) if encoder is not None else cls(**saved)
            require_space(
                recorded, index.encoder.space, f"SPLADE index in {directory}", REBUILD_HINT
            )
            index.postings = PostingStore.load(directory, "splade", meta["postings"], fail)
            index.n_docs = int(meta["n_docs"])
        except (KeyError, TypeError, ValueError) as exc:
            fail(directory / "splade.json", f"missing or bad field {exc}")
        if int((index.postings.generation >= 0).sum()) != index.n_docs:
            fail(directory / "splade.generation.npy", "inconsistent with splade.json")
        return index
