"""The `bm25` evaluation preset: the collection's BM25 index over an evaluation corpus.

Same index class, analyzer and scoring as a collection's `bm25` index, so evaluation
numbers describe what `embedstack search --retriever bm25` does.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from embedstack.search.presets import PresetOptions
from embedstack.store.bm25 import BM25Index


class BM25BatchRetriever:
    def __init__(self, ids: list[str], index: BM25Index) -> None:
        self.ids, self.index = ids, index

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        out = []
        with warnings.catch_warnings():  # a stop-word-only query simply matches nothing
            warnings.simplefilter("ignore")
            for query in queries:
                rows, scores = self.index.search(query, k, None)
                out.append(
                    [(self.ids[int(r)], float(s)) for r, s in zip(rows, scores, strict=True)]
                )
        return out

    def memory_bytes(self) -> int:
        """Size of the saved index (its arrays are what a loaded index holds)."""
        with tempfile.TemporaryDirectory() as tmp:
            self.index.save(Path(tmp))
            return sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())


def build_bm25(docs: Mapping[str, str], options: PresetOptions) -> BM25BatchRetriever:
    """BM25 (Lucene idf, k1=1.5, b=0.75, English stemming and stop words) over `docs`;
    `options.params` may override the index settings (`k1`, `b`, `variant`)."""
    ids = list(docs)
    settings = {k: v for k, v in options.params.items() if k in ("k1", "b", "variant", "delta")}
    index = BM25Index.build(np.arange(len(ids)), [docs[i] for i in ids], **settings)
    return BM25BatchRetriever(ids, index)
