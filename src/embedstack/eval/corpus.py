"""The evaluation corpus as a real collection, so `eval` runs the pipeline users run.

A dataset's documents are indexed into a `Collection` with the evaluated encoder and the
indexes the preset needs. With caching on, the collection is kept under the eval cache
folder, keyed by the corpus content (ids and texts) and the embedding space: a re-run,
another preset or another cut-off reuses it and embeds no document. A new collection is
built in a temporary folder and renamed into place once complete, so an interrupted
build is never mistaken for a finished one. Index settings (e.g. BM25 `k1`) that differ
from the cached collection's are applied by rebuilding that index from the stored texts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.eval.datasets import RetrievalDataset
from embedstack.eval.options import uncached
from embedstack.progress import Progress, report
from embedstack.store.collection import Collection
from embedstack.store.indexes import new_index
from embedstack.store.manifest import MANIFEST
from embedstack.store.opening import INDEXES_DIR
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)


class NoVectors(Encoder):
    """The dense side of a lexical-only evaluation (BM25, SPLADE, ColBERT): a collection
    always has a vector space, and this one costs nothing and is never searched."""

    space = EmbeddingSpace(model="none", dim=1, fingerprint="no-vectors-v1", pooling="none")

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """One zero per text (zero rows are never returned by dense search)."""
        return np.zeros((len(texts), 1), dtype=np.float32)


@dataclass
class Corpus:
    """An indexed corpus and what indexing it cost this run."""

    collection: Collection
    embedded: int
    reused: int
    seconds: float
    cpu_seconds: float
    folder: Path
    temporary: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Close the collection; a temporary (uncached) one is deleted."""
        self.collection.close()
        if self.temporary:  # the folder mkdtemp made for it, with everything inside
            shutil.rmtree(self.folder.parent, ignore_errors=True)

    def memory_bytes(self, retrievers: list[str]) -> int:
        """Bytes the retrievers' data takes: float32 vectors for dense, the index files
        (arrays saved as `.npy`, loaded as they are) for an index."""
        total = 0
        for name in retrievers:
            if name == "dense":
                total += len(self.collection) * self.collection.space.dim * 4
                continue
            for folder in (self.folder / INDEXES_DIR).glob(f"{name}-*"):
                total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return total


def corpus_key(docs: Mapping[str, str], space: EmbeddingSpace) -> str:
    """Changes whenever a document id or text, or anything about the vectors, changes."""
    digest = hashlib.sha256()
    for doc_id, text in docs.items():
        digest.update(doc_id.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    return f"{digest.hexdigest()[:20]}-{space.key()}"


def index_corpus(
    dataset: RetrievalDataset,
    encoder: Encoder,
    indexes: Mapping[str, dict[str, Any] | None],
    *,
    root: Path | None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> Corpus:
    """Open the cached collection of this corpus in this space, or build it (into `root`,
    or a temporary folder when `root` is None); then make its indexes match `indexes`.

    Documents are embedded with the encoder under any cache wrapper (their vectors live
    in the collection); the collection searches with `encoder`, so queries are cached."""
    docs = dataset.doc_texts()
    wall, cpu = time.perf_counter(), time.process_time()
    temporary = root is None
    if root is None:
        folder = Path(tempfile.mkdtemp(prefix="embedstack-eval-")) / "corpus"
    else:
        folder = root / corpus_key(docs, encoder.space)
    collection = _open_complete(folder, encoder, len(docs))
    embedded = reused = 0
    if collection is None:
        collection = _build(folder, docs, encoder, indexes, batch_size=batch_size,
                            progress=progress)  # fmt: skip
        embedded = len(docs)
    else:
        reused = len(docs)
        log.info("reusing the indexed corpus in %s", folder)
    for name, config in indexes.items():
        wanted = new_index(name, config).config()
        if collection.manifest.indexes.get(name) != wanted:
            report(progress, f"indexing {name}", 0, 1)
            collection.rebuild_index(name, wanted)
            report(progress, f"indexing {name}", 1, 1)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return Corpus(collection, embedded, reused, seconds, cpu_seconds, folder, temporary)


def _open_complete(folder: Path, encoder: Encoder, rows: int) -> Collection | None:
    if not (folder / MANIFEST).exists():
        return None
    collection = Collection.open(folder, encoder=encoder)
    if len(collection) == rows:
        return collection
    collection.close()  # not what this key promises (edited by hand?): build it again
    log.warning("the cached corpus in %s has the wrong size; rebuilding it", folder)
    shutil.rmtree(folder)
    return None


def _build(
    folder: Path,
    docs: Mapping[str, str],
    encoder: Encoder,
    indexes: Mapping[str, dict[str, Any] | None],
    *,
    batch_size: int | None,
    progress: Progress | None,
) -> Collection:
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = folder.with_name(f".{folder.name}.building-{uuid.uuid4().hex[:8]}")
    label = "embedding documents" if not isinstance(encoder, NoVectors) else "indexing"

    def step(stage: str, done: int, total: int | None) -> None:
        report(progress, label, done, total)

    try:
        with Collection.create(building, uncached(encoder), indexes=dict(indexes)) as collection:
            collection.add(list(docs.values()), ids=list(docs), batch_size=batch_size,
                           progress=step)  # fmt: skip
        if folder.exists():  # another run finished the same corpus first: keep theirs
            shutil.rmtree(building)
        else:
            os.replace(building, folder)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return Collection.open(folder, encoder=encoder)
