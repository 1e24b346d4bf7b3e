"""Copy a collection between backends (folder <-> PostgreSQL), resumably, and verify it.

`migrate_store(src, dst)` never re-embeds: the destination is opened with an encoder
that hands back the source's stored vectors, so it runs the same `upsert` (and the same
space checks) as any other write. Each batch is one committed upsert keyed by id, so an
interrupted copy is resumed by running it again: rows already copied are unchanged and
skipped. At the end the row counts must match and a sample of rows (text, metadata and
vector) must agree, or the migration fails naming what differs.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.base import Encoder
from embedstack.errors import CollectionError
from embedstack.progress import Progress, report
from embedstack.store.backend import collection_exists
from embedstack.store.collection import Collection
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)
MODEL_INDEXES = ("splade", "colbert")  # need their model: rebuilt, not copied


@dataclass
class MigrationReport:
    """Rows in the source, copied, already present, and checked after copying."""

    total: int = 0
    copied: int = 0
    unchanged: int = 0
    verified: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counts as a JSON-ready dict."""
        return dict(self.__dict__)


class CopiedVectors(Encoder):
    """An encoder in the source's space that returns the source's stored vectors."""

    def __init__(self, space: EmbeddingSpace, spec: str) -> None:
        self.space = space
        self.spec = spec
        self.vectors: dict[str, np.ndarray] = {}

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """The copied vectors of `texts` (the base added the space's prefix: strip it)."""
        prefix = self.space.query_prefix if kind is Kind.QUERY else self.space.document_prefix
        try:
            rows = [self.vectors[t[len(prefix) :] if prefix else t] for t in texts]
        except KeyError:
            raise CollectionError(
                "migrate-store asked for a vector it did not copy (the source changed while "
                "copying?): run the migration again"
            ) from None
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)


def _destination_indexes(source: Any, postgres: bool) -> list[str]:
    names = list(source.manifest.indexes)
    skipped = [n for n in names if n in MODEL_INDEXES]
    if skipped:
        log.warning(
            "not copying the %s index(es): rebuild them on the destination with "
            "`embedstack index ... --splade/--colbert`",
            ", ".join(skipped),
        )
    lexical = [n for n in names if n in ("bm25", "fts")]
    if not lexical:
        return []
    return ["fts"] if postgres else ["bm25"]


def _open_destination(dst: str | Path, source: Any, encoder: CopiedVectors) -> Any:
    if collection_exists(dst):
        return Collection.open(dst, encoder)  # refuses another space
    postgres = isinstance(dst, str) and dst.startswith(("postgresql://", "postgres://"))
    return Collection.create(
        dst, encoder, indexes=_destination_indexes(source, postgres), metric=source.manifest.metric
    )


def _same_vector(original: np.ndarray, stored: np.ndarray, dest: Any) -> bool:
    """Equal as the destination stores it: halfvec keeps ~3 digits, bit only signs."""
    if getattr(getattr(dest, "settings", None), "storage", "") == "bit":
        return bool(np.array_equal(original > 0, stored > 0))
    return bool(np.allclose(original, stored, atol=2e-3))


def _verify(source: Any, dest: Any, ids: list[str], sample: int) -> int:
    if len(dest) != len(source):
        raise CollectionError(
            f"{dest.path} has {len(dest)} rows but {source.path} has {len(source)}: the "
            "destination holds rows the source does not; migrate into a new destination"
        )
    chosen = random.Random(0).sample(ids, min(sample, len(ids)))
    expected = {r.id: r for r in source.get(chosen)}
    got = {r.id: r for r in dest.get(chosen)}
    for id_ in chosen:
        a, b = expected[id_], got.get(id_)
        if b is None or a.text != b.text or a.metadata != b.metadata:
            raise CollectionError(f"row {id_!r} differs after migration: run it again")
        if not _same_vector(a.vector, b.vector, dest):
            raise CollectionError(f"the vector of row {id_!r} differs after migration")
    return len(chosen)


def migrate_store(
    src: str | Path,
    dst: str | Path,
    *,
    batch_size: int = 1000,
    sample: int = 100,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy every row of `src` into `dst` (created when missing), then verify."""
    result = MigrationReport()
    with Collection.open(src) as source:
        encoder = CopiedVectors(source.space, source.manifest.model_spec)
        with _open_destination(dst, source, encoder) as dest:
            ids = source.ids()
            result.total = len(ids)
            for start in range(0, len(ids), batch_size):
                records = source.get(ids[start : start + batch_size])
                encoder.vectors = {r.text: r.vector for r in records}
                done = dest.upsert(
                    [r.text for r in records], [r.id for r in records],
                    [r.metadata for r in records],
                )  # fmt: skip
                result.copied += done.embedded + len(done.metadata_only)
                result.unchanged += len(done.unchanged)
                report(progress, "copy", start + len(records), len(ids))
            result.verified = _verify(source, dest, ids, sample)
    return result
