"""Documents scored as their best chunk (MaxP): the chunk-level retrieval that
`eval --chunk-tokens` and the RAG chunk-size sweep share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from embedstack.encoders.base import normalize_rows
from embedstack.text.chunking import Chunker

Embed = Callable[[Sequence[str], str], np.ndarray]
"""`embed(texts, kind)` -> one row per text, e.g. `encoder.encode` or a caching wrapper."""


def best_chunk_scores(
    texts: Sequence[str],
    query_vectors: np.ndarray,
    encoder: Any,
    max_tokens: int,
    *,
    overlap: int = 0,
    embed: Embed | None = None,
) -> tuple[np.ndarray, int]:
    """(queries, documents) cosine scores where each document scores as its best chunk
    (MaxP) when chunked at `max_tokens`, and the number of chunks. A document with no
    chunk (empty text) scores -inf. `embed` defaults to `encoder.encode`; pass a caching
    one so that re-runs embed nothing."""
    chunker = Chunker.for_encoder(encoder, max_tokens, overlap)
    owners: list[int] = []
    chunk_texts: list[str] = []
    for n, text in enumerate(texts):
        for c in chunker.chunk(text):
            owners.append(n)
            chunk_texts.append(c.text)
    scores = np.full((len(query_vectors), len(texts)), -np.inf, dtype=np.float32)
    if chunk_texts:
        cvec = normalize_rows((embed or encoder.encode)(chunk_texts, "document"))
        sims = normalize_rows(query_vectors) @ cvec.T
        np.maximum.at(scores.T, np.asarray(owners), sims.T)
    return scores, len(chunk_texts)
