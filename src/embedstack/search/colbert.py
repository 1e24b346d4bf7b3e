"""ColBERT as a reranker: re-score any retriever's top hits by exact MaxSim.

The passages are encoded on the fly, so it needs no index; the first-stage `colbert`
index of a collection lives in `embedstack.store.colbert`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.colbert import ColbertEncoder
from embedstack.search.rerank import apply_scores, require_texts
from embedstack.similarity import maxsim_many
from embedstack.types import Hit, Kind

COLBERT_STAGE = "colbert"


class ColbertReranker:
    """Rerank hits by exact MaxSim between the query and each hit's text."""

    stage = COLBERT_STAGE

    def __init__(self, encoder: ColbertEncoder | str | Path) -> None:
        self.encoder = encoder if isinstance(encoder, ColbertEncoder) else ColbertEncoder(encoder)

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """MaxSim of `query` against each passage, in passage order."""
        (q,) = self.encoder.encode([query], Kind.QUERY)
        return maxsim_many(q, self.encoder.encode(passages, Kind.DOCUMENT))

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """Hits reordered by MaxSim (top `k`), earlier stages' scores kept."""
        if not hits:
            return []
        return apply_scores(hits, self.score(query, require_texts(hits)), COLBERT_STAGE, k)

    def config(self) -> dict[str, Any]:
        """The settings `from_config` rebuilds this reranker from."""
        return {"kind": "colbert", **self.encoder.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ColbertReranker:
        """The reranker `config()` describes."""
        return cls(ColbertEncoder(config["model"], batch_size=int(config.get("batch_size", 32))))
