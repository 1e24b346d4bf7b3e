"""SPLADE learned sparse encoder on top of any Hugging Face masked-LM checkpoint.

The transformer body runs on ONNX Runtime through `TransformerModel`; the MLM head
(dense -> activation -> LayerNorm -> decoder + bias) runs in numpy from the same
safetensors file. A text's weight for vocabulary term j is

    w_j = max over unmasked tokens t of log(1 + ReLU(logits[t, j]))

which equals log(1 + ReLU(max_t logits[t, j])) because log1p(ReLU(.)) is monotone, so the
head never materialises the (tokens x vocabulary) activations after the max.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.kinds import SparseEncoder
from embedstack.encoders.transformer import TransformerModel
from embedstack.errors import InputError, ModelNotFoundError
from embedstack.types import EmbeddingSpace, Kind, SparseVector

log = logging.getLogger(__name__)

# Tensor names of the MLM head by architecture: (dense, layer norm, decoder, bias).
_HEADS = {
    "bert": (
        "cls.predictions.transform.dense",
        "cls.predictions.transform.LayerNorm",
        "cls.predictions.decoder",
        "cls.predictions.bias",
    ),
    "roberta": ("lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias"),
}
_ROBERTA_TYPES = ("roberta", "xlm-roberta", "camembert")
QUERY_MODES = ("model", "tokens")
POOLING = "max-log1p-relu"  # per term: max over tokens of log(1 + ReLU(logit))


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "gelu":
        from embedstack.numeric import erf

        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    if name == "relu":
        return np.maximum(x, 0.0)
    raise InputError(f"the MLM head uses activation {name!r}, which SPLADE does not support yet")


class MlmHead:
    """The masked-LM prediction head, read from model.safetensors."""

    def __init__(self, model: Any) -> None:
        from safetensors.numpy import safe_open

        from embedstack.encoders.onnx_export import weight_prefix

        config = model.config
        family = "roberta" if config.get("model_type") in _ROBERTA_TYPES else "bert"
        dense, norm, decoder, bias = _HEADS[family]
        with safe_open(str(model.path / "model.safetensors"), framework="np") as handle:
            names = set(handle.keys())
        if f"{dense}.weight" not in names:
            raise ModelNotFoundError(
                f"{model.path} has no masked-LM head ({dense}.weight): SPLADE needs a "
                "checkpoint saved from a *ForMaskedLM model (e.g. naver/splade-v3)"
            )
        self.dense_w = model.tensor(f"{dense}.weight").astype(np.float32)
        self.dense_b = model.tensor(f"{dense}.bias").astype(np.float32)
        self.norm_w = model.tensor(f"{norm}.weight").astype(np.float32)
        self.norm_b = model.tensor(f"{norm}.bias").astype(np.float32)
        tied = weight_prefix(sorted(names)) + "embeddings.word_embeddings.weight"
        self.decoder_w = model.tensor(
            f"{decoder}.weight" if f"{decoder}.weight" in names else tied
        ).astype(np.float32)
        self.bias = model.tensor(bias if bias in names else f"{decoder}.bias").astype(np.float32)
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        act = config.get("hidden_act", "gelu") if family == "bert" else "gelu"
        self.activation = str(act)

    def max_logits(self, hidden: np.ndarray) -> np.ndarray:
        """(tokens, hidden) of one text -> max over tokens of the vocabulary logits."""
        x = hidden @ self.dense_w.T + self.dense_b
        x = _activation(x, self.activation)
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        x = (x - mean) / np.sqrt(var + self.eps) * self.norm_w + self.norm_b
        logits = x @ self.decoder_w.T + self.bias
        return logits.max(axis=0)


class SpladeEncoder(SparseEncoder):
    """Texts -> `SparseVector`s over the model's vocabulary.

    Args:
        path: a Hugging Face masked-LM folder (config.json, tokenizer.json,
            model.safetensors).
        query_max_length / document_max_length: truncation per side (queries are short,
            documents get the model's limit by default).
        query_mode: "model" runs the network on queries too; "tokens" weighs each query
            token by its count without running the model (the idf-free, inference-free
            query side of SPLADE-doc style models).
        query_top_k / document_top_k: keep only the k largest weights (pruning).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        query_max_length: int | None = 64,
        document_max_length: int | None = None,
        query_mode: str = "model",
        query_top_k: int | None = None,
        document_top_k: int | None = None,
    ) -> None:
        if query_mode not in QUERY_MODES:
            raise InputError(f"query_mode must be one of {QUERY_MODES}, got {query_mode!r}")
        for name, value in (("query_top_k", query_top_k), ("document_top_k", document_top_k)):
            if value is not None and value <= 0:
                raise InputError(f"{name} must be a positive number of terms, got {value}")
        self.path = Path(path).expanduser().resolve()
        self.model = TransformerModel.from_dir(self.path, max_length=document_max_length)
        limit = self.model.max_length
        self.lengths = {
            Kind.QUERY: min(query_max_length or limit, limit),
            Kind.DOCUMENT: limit,
        }
        self.query_mode = query_mode
        self.top_k = {Kind.QUERY: query_top_k, Kind.DOCUMENT: document_top_k}
        self.head = MlmHead(self.model)
        self._settings = {
            "query_max_length": query_max_length,
            "document_max_length": document_max_length,
            "query_mode": query_mode,
            "query_top_k": query_top_k,
            "document_top_k": document_top_k,
        }
        self.space = EmbeddingSpace(
            model=str(self.path),
            dim=int(self.head.decoder_w.shape[0]),
            fingerprint=self.model.fingerprint,
            tokenizer=self.model.tokenizer_hash,
            pooling=POOLING,
            normalize=False,
            max_tokens=self.lengths[Kind.DOCUMENT],
            precision=self.model.precision,
            extra=(
                ("activation", self.head.activation),
                ("document_top_k", str(document_top_k)),
                ("query_max_tokens", str(self.lengths[Kind.QUERY])),
                ("query_mode", query_mode),
                ("query_top_k", str(query_top_k)),
            ),
        )

    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this encoder (`from_config`)."""
        return {"model": str(self.path), **self._settings}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpladeEncoder:
        """The encoder `config()` describes."""
        values = dict(config)
        return cls(values.pop("model"), **values)

    def token(self, term_id: int) -> str:
        """The vocabulary string of a term id (to explain which terms matched)."""
        return self.model.tokenizer.id_to_token(int(term_id)) or f"[{term_id}]"

    def encode_batch(self, texts: list[str], kind: Kind) -> list[SparseVector]:
        """Max over tokens of log(1 + ReLU(MLM logits)), pruned to the side's top-k."""
        if kind is Kind.QUERY and self.query_mode == "tokens":
            return [self._token_counts(text) for text in texts]
        self.model.tokenizer.enable_truncation(max_length=self.lengths[kind])
        batch = self.model.tokenize(texts)
        if batch.truncated.any():
            log.debug("%d texts truncated to %d tokens", batch.truncated.sum(), self.lengths[kind])
        hidden = self.model.hidden_states(batch)
        out = []
        for row in range(len(texts)):
            mask = batch.attention_mask[row].astype(bool)
            weights = np.log1p(np.maximum(self.head.max_logits(hidden[row, mask]), 0.0))
            out.append(_sparse(weights, self.top_k[kind]))
        return out

    def _token_counts(self, text: str) -> SparseVector:
        encoding = self.model.tokenizer.encode(text, add_special_tokens=False)
        ids = np.asarray(encoding.ids[: self.lengths[Kind.QUERY]], dtype=np.int64)
        counts = np.bincount(ids, minlength=self.vocab_size).astype(np.float32)
        return _sparse(counts, self.top_k[Kind.QUERY])


def _sparse(weights: np.ndarray, top_k: int | None) -> SparseVector:
    indices = np.flatnonzero(weights > 0)
    if top_k is not None and len(indices) > top_k:
        keep = np.argpartition(-weights[indices], top_k - 1)[:top_k]
        indices = np.sort(indices[keep])
    return SparseVector(indices.astype(np.int32), weights[indices].astype(np.float32))
