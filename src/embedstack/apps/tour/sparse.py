"""Sparse term weights for the tour: BM25 from the demo corpus, SPLADE from a model folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedstack.apps.tour.step import tour_data
from embedstack.store.bm25 import BM25Index
from embedstack.text.loaders import load_documents


def bm25_terms(sentence: str) -> list[tuple[str, float]]:
    """Each analysed term of `sentence` with its BM25 weight, as if it were one more
    document of the demo corpus (a one-term query scores exactly that weight)."""
    docs = [d.text for d in load_documents([tour_data("demo/corpus.jsonl")]).documents]
    texts = [*docs, sentence]
    index = BM25Index.build(np.arange(len(texts), dtype=np.int64), texts)
    weights = []
    for term in dict.fromkeys(index.analyzer.terms(sentence)):
        scores = index.score_all(term)
        weights.append((term, 0.0 if scores is None else float(scores[len(docs)])))
    return sorted(weights, key=lambda tw: -tw[1])


def splade_terms(model: str | Path, sentence: str) -> list[tuple[str, float]]:
    """The SPLADE vector of `sentence` as (vocabulary term, weight), largest first."""
    from embedstack.encoders.splade import SpladeEncoder

    encoder = SpladeEncoder(model)
    vector = encoder.encode([sentence])[0]
    order = np.argsort(-vector.values, kind="stable")
    return [(encoder.token(int(vector.indices[i])), float(vector.values[i])) for i in order]
