"""Shared helpers for the version tests (imported, not collected)."""

from __future__ import annotations

import numpy as np

from embedstack.encoders.hashing import HashEncoder
from embedstack.types import Kind

TEXTS = {
    f"d{i:03d}": f"document {i} about topic {i % 7} with words w{i} and x{i % 11}"
    for i in range(40)
}


class Counting(HashEncoder):
    """HashEncoder counting the texts it embeds; raises after `fail_after` calls."""

    def __init__(self, dim: int, fail_after: int | None = None) -> None:
        super().__init__(dim)
        self.embedded: list[str] = []
        self.calls = 0
        self.fail_after = fail_after

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        if kind == Kind.DOCUMENT:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise KeyboardInterrupt("stopped mid-migration")
            self.calls += 1
            self.embedded += texts
        return super().encode_batch(texts, kind)


def make(path, dim: int = 64, texts: dict[str, str] | None = None, **kw):
    from embedstack.store.collection import Collection

    texts = TEXTS if texts is None else texts
    col = Collection.create(path, HashEncoder(dim), **kw)
    col.add(list(texts.values()), ids=list(texts), metadata=[{"n": i} for i in range(len(texts))])
    return col


def exact_vectors(col, dim: int) -> None:
    """Every row of `col` holds exactly one vector, the one hash:`dim` makes of its text."""
    ids = col.ids()
    assert len(ids) == len(set(ids)) == len(col)
    records = col.get(ids)
    expected = HashEncoder(dim).encode([r.text for r in records], kind=Kind.DOCUMENT)
    np.testing.assert_allclose(np.stack([r.vector for r in records]), expected, atol=1e-6)
    assert len(col._query(col._store.alive_rows)) == len(ids)
