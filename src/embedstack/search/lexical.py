"""Evaluation presets `bm25` and `splade` (see `embedstack.search.presets`).

Both index the corpus with the same index classes a collection uses, so `embedstack eval
DATASET --retriever bm25` measures exactly what `Collection.search(retriever="bm25")`
returns. Preset parameters (`options.params`): for bm25 `variant`, `k1`, `b`, `delta`,
`stopwords`, `stemmer`; for splade the model folder comes from `--model` (or
`params["model"]`) plus any `SpladeEncoder` setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embedstack.errors import InputError
from embedstack.search.presets import PresetOptions
from embedstack.store.bm25 import BM25Index
from embedstack.store.sparse import SpladeIndex

_ANALYZER_KEYS = ("lowercase", "normalize", "stopwords", "stemmer", "token_pattern")
_BM25_KEYS = ("variant", "k1", "b", "delta")


class IndexBatchRetriever:
    """Runs a secondary index over a corpus whose row i is `ids[i]`."""

    def __init__(self, ids: list[str], index: Any, options: PresetOptions) -> None:
        self.ids = ids
        self.index = index
        self.options = options

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        results = []
        for query in queries:
            rows, scores = self.index.search(query, k, None)
            results.append([(self.ids[r], float(s)) for r, s in zip(rows, scores, strict=True)])
            if self.options.progress:
                self.options.progress("searching", len(results), len(queries))
        return results

    def memory_bytes(self) -> int:
        postings = self.index.postings
        arrays = [postings.generation] + [
            np.asarray(getattr(segment, name))
            for segment in postings.segments
            for name in ("indptr", "rows", "values", "doc_rows", "doc_indptr", "doc_terms")
        ]
        arrays += [
            getattr(self.index, name) for name in ("df", "doc_len") if hasattr(self.index, name)
        ]
        return int(sum(a.nbytes for a in arrays))


def build_bm25(docs: Mapping[str, str], options: PresetOptions) -> IndexBatchRetriever:
    params = dict(options.params)
    unknown = set(params) - set(_ANALYZER_KEYS) - set(_BM25_KEYS)
    if unknown:
        known = ", ".join(_BM25_KEYS + _ANALYZER_KEYS)
        raise InputError(f"unknown bm25 parameters {sorted(unknown)}; use {known}")
    analyzer = {key: params.pop(key) for key in _ANALYZER_KEYS if key in params}
    ids = list(docs)
    index = BM25Index(analyzer=analyzer or None, **params)
    index.add(np.arange(len(ids)), [docs[i] for i in ids])
    return IndexBatchRetriever(ids, index, options)


def build_splade(docs: Mapping[str, str], options: PresetOptions) -> IndexBatchRetriever:
    settings = dict(options.params)
    settings.setdefault("model", options.model)
    if not settings["model"]:
        raise InputError(
            "the splade preset needs a masked-LM model folder: pass --model PATH "
            "(a Hugging Face *ForMaskedLM checkpoint such as naver/splade-v3)"
        )
    ids = list(docs)
    index = SpladeIndex(**settings)
    index.add(np.arange(len(ids)), [docs[i] for i in ids])
    return IndexBatchRetriever(ids, index, options)
