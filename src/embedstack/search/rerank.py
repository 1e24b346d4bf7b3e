"""Rerankers: re-score the top hits of any retriever with a slower, sharper model.

`CrossEncoderReranker` runs a Hugging Face sequence-classification checkpoint (BERT or
RoBERTa family, e.g. an MS MARCO MiniLM cross-encoder or bge-reranker) on ONNX Runtime:
the encoder body through `TransformerModel`, the small classification head in numpy
from the checkpoint's own tensors. Every reranker keeps the earlier stages' scores on
each hit, so `explain` can show how the order changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from embedstack.errors import InputError, ModelNotFoundError
from embedstack.similarity import topk
from embedstack.types import Hit

log = logging.getLogger(__name__)

RERANK_STAGE = "rerank"
_FAMILIES = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "camembert": "roberta"}


class Reranker(Protocol):
    """Re-scores hits with a sharper model; records its score under `stage`."""

    stage: str  # the name its score is recorded under in Hit.stages

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """The hits re-ordered by this reranker's score, cut to k."""
        ...

    def config(self) -> dict[str, Any]:
        """JSON-able settings (`reranker_from_config` reads them back)."""
        ...


def apply_scores(
    hits: Sequence[Hit], scores: np.ndarray, stage: str, k: int | None = None
) -> list[Hit]:
    """New hits ordered by `scores` with a `stage` entry; earlier stages are kept.

    A hit that carries no stages yet (a bare retriever result) keeps its score and rank
    as the `first_stage` entry. Ties keep the earlier order.
    """
    if k is not None and k <= 0:
        raise InputError(f"k must be a positive number of results, got {k}")
    values = np.asarray(scores, dtype=np.float64)
    order = topk(values, k or len(values))[0] if len(values) else np.zeros(0, np.int64)
    out = []
    for rank, i in enumerate(order, start=1):
        hit = hits[int(i)]
        stages = {name: dict(values) for name, values in hit.stages.items()}
        if not stages:
            stages["first_stage"] = {"score": float(hit.score), "rank": int(i) + 1}
        stages[stage] = {"score": float(scores[i]), "rank": rank}
        out.append(Hit(hit.id, float(scores[i]), hit.text, dict(hit.metadata), stages))
    return out


def require_texts(hits: Sequence[Hit]) -> list[str]:
    """The texts of the hits; refuses hits without text (nothing to rerank on)."""
    missing = [h.id for h in hits if not h.text]
    if missing:
        raise InputError(
            f"cannot rerank hits without text (ids {missing[:5]}): search a collection that "
            "stores texts, or fill Hit.text before reranking"
        )
    return [h.text for h in hits]


def check_architecture(path: Path, config: dict[str, Any], expected: str) -> str:
    """The model family ('bert' or 'roberta'), or an error naming found vs expected."""
    found = config.get("architectures") or ["(none listed)"]
    model_type = config.get("model_type", "(none)")
    if not any(a.endswith(expected) for a in found) or model_type not in _FAMILIES:
        raise ModelNotFoundError(
            f"{path} holds {', '.join(found)} (model_type {model_type!r}), but a "
            f"*{expected} model of the BERT or RoBERTa family (model_type one of "
            f"{sorted(_FAMILIES)}) is expected here"
        )
    return _FAMILIES[model_type]


class CrossEncoderReranker:
    """Scores (query, passage) pairs jointly; the logit of the positive class is the score.

    With one label the logit is the score; with two, logit[1] - logit[0] (the log-odds of
    "relevant", which orders exactly like its softmax probability).
    """

    stage = RERANK_STAGE

    def __init__(self, model_dir: str | Path, batch_size: int = 32, max_length: int | None = None):
        from embedstack.encoders.transformer import TransformerModel, _read_json

        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} has no config.json: pass a Hugging Face sequence-classification "
                "model folder (config.json, tokenizer.json, model.safetensors)"
            )
        config = _read_json(path / "config.json")
        self.family = check_architecture(path, config, "ForSequenceClassification")
        if batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {batch_size}")
        self.model_dir, self.batch_size = path, batch_size
        self.model = TransformerModel.from_dir(path, max_length=max_length)
        self.num_labels = len(config.get("id2label") or {}) or int(config.get("num_labels", 2))
        if self.num_labels not in (1, 2):
            raise ModelNotFoundError(
                f"{path} is a {self.num_labels}-label classifier; a reranker needs 1 label "
                "(relevance score) or 2 (not relevant / relevant)"
            )
        self._head = self._load_head()

    def _load_head(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(weight, bias) pairs: dense+tanh then the output projection."""
        t = self.model.tensor
        if self.family == "bert":
            names = ["bert.pooler.dense", "classifier"]
        else:
            names = ["classifier.dense", "classifier.out_proj"]
        return [
            (t(f"{n}.weight").astype(np.float32), t(f"{n}.bias").astype(np.float32)) for n in names
        ]

    def logits(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        """(n, num_labels) logits, as the checkpoint's own forward pass computes them.

        Pairs are batched by length (padding costs as much as real tokens) and the
        results put back in the input order.
        """
        out = np.zeros((len(queries), self.num_labels), np.float32)
        if not len(queries):
            return out
        lengths = [len(q) + len(p) for q, p in zip(queries, passages, strict=True)]
        order = np.argsort(lengths, kind="stable")
        (w1, b1), (w2, b2) = self._head
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            batch = self.model.tokenize(
                [queries[i] for i in chosen], pairs=[passages[i] for i in chosen]
            )
            first = self.model.hidden_states(batch)[:, 0]
            out[chosen] = np.tanh(first @ w1.T + b1) @ w2.T + b2
        return out

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Relevance logits of each passage for the query."""
        logits = self.logits([query] * len(passages), passages)
        return logits[:, 0] if self.num_labels == 1 else logits[:, 1] - logits[:, 0]

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[Hit]:
        """The hits re-ordered by cross-encoder score, cut to k."""
        if not hits:
            return []
        return apply_scores(hits, self.score(query, require_texts(hits)), RERANK_STAGE, k)

    def config(self) -> dict[str, Any]:
        """JSON-able settings (`reranker_from_config` reads them back)."""
        return {
            "kind": "cross-encoder",
            "model": str(self.model_dir),
            "batch_size": self.batch_size,
            "max_length": self.model.max_length,
        }


def reranker_from_config(config: dict[str, Any]) -> Reranker:
    """Rebuild a reranker stage from its `config()` dict."""
    values = dict(config)
    kind = values.pop("kind", None)
    if kind == "cross-encoder":
        return CrossEncoderReranker(values.pop("model"), **values)
    if kind == "colbert":
        from embedstack.search.colbert import ColbertReranker

        return ColbertReranker.from_config(config)
    raise InputError(f"unknown reranker kind {kind!r}: expected 'cross-encoder' or 'colbert'")
