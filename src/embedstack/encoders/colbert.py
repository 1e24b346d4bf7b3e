"""ColBERT-style multi-vector encoder: one L2-normalised vector per token.

Reads a ColBERT checkpoint folder in the Stanford layout (`config.json` of a BERT-family
encoder, `model.safetensors` with the encoder under `bert.` plus the `linear.weight`
projection, optional `artifact.metadata` with ColBERT's settings) or the PyLate /
sentence-transformers layout (projection in `1_Dense/model.safetensors`). It reproduces
ColBERT's input conventions, because scores are only meaningful with them:

- a marker token after [CLS] (`[unused0]` for queries, `[unused1]` for documents);
- queries padded to a fixed length with [MASK] tokens ("query augmentation"): the
  padding is not attended to but its output vectors take part in MaxSim;
- document vectors of punctuation tokens and padding are dropped (the skiplist).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.kinds import MultiVectorEncoder
from embedstack.encoders.transformer import TokenBatch, TransformerModel, file_sha256
from embedstack.errors import ModelNotFoundError
from embedstack.types import EmbeddingSpace, Kind

POOLING = "tokens"  # no pooling: one projected, L2-normalised vector per token
DEFAULTS = {
    "dim": 128,
    "query_maxlen": 32,
    "doc_maxlen": 180,
    "query_token_id": "[unused0]",
    "doc_token_id": "[unused1]",
    "attend_to_mask_tokens": False,
    "mask_punctuation": True,
}


def _settings(path: Path) -> dict[str, Any]:
    """ColBERT's own settings: artifact.metadata (Stanford) or the ST config (PyLate)."""
    settings = dict(DEFAULTS)
    meta = path / "artifact.metadata"
    if meta.is_file():
        data = json.loads(meta.read_text(encoding="utf-8"))
        settings.update({k: data[k] for k in DEFAULTS if k in data})
        if "dim" in data:
            settings["declared_dim"] = data["dim"]
    st = path / "config_sentence_transformers.json"
    if st.is_file():
        data = json.loads(st.read_text(encoding="utf-8"))
        renames = {"query_length": "query_maxlen", "document_length": "doc_maxlen"}
        settings.update({new: data[old] for old, new in renames.items() if old in data})
        for key, prefix in (
            ("query_token_id", "query_prefix"),
            ("doc_token_id", "document_prefix"),
        ):
            if data.get(prefix):
                settings[key] = data[prefix].strip()
        if "attend_to_expansion_tokens" in data:
            settings["attend_to_mask_tokens"] = bool(data["attend_to_expansion_tokens"])
    return settings


def _projection(path: Path, model: TransformerModel) -> tuple[np.ndarray, Path]:
    """The (dim, hidden) linear projection and the file it came from."""
    from safetensors.numpy import safe_open

    candidates = [(path / "model.safetensors", "linear.weight")]
    candidates += [(d / "model.safetensors", "linear.weight") for d in sorted(path.glob("*_Dense"))]
    for file, name in candidates:
        if file.is_file():
            with safe_open(str(file), framework="np") as handle:
                if name in handle.keys():  # noqa: SIM118 - safe_open has no __contains__
                    weight = np.asarray(handle.get_tensor(name), dtype=np.float32)
                    if weight.ndim == 2 and weight.shape[1] == model.hidden_size:
                        return weight, file
    found = ", ".join(model.config.get("architectures") or ["(none listed)"])
    raise ModelNotFoundError(
        f"{path} holds {found} without a ColBERT projection; expected a ColBERT checkpoint: a "
        f"BERT-family encoder plus a 'linear.weight' tensor of shape (dim, {model.hidden_size}) "
        "in model.safetensors (Stanford layout) or 1_Dense/model.safetensors (PyLate layout)"
    )


def _fingerprint(model: TransformerModel, projection: Path) -> str:
    """sha256 of the weights; with a separate projection file (PyLate), of both hashes."""
    if projection == model.path / "model.safetensors":
        return model.fingerprint
    both = f"{model.fingerprint}+{file_sha256(projection)}"
    return hashlib.sha256(both.encode()).hexdigest()


class ColbertEncoder(MultiVectorEncoder):
    """ColBERT checkpoint -> one L2-normalised (tokens, dim) float32 array per text."""

    def __init__(self, model_dir: str | Path, batch_size: int = 32) -> None:
        path = Path(model_dir).expanduser()
        self.settings = _settings(path)
        self.model_dir, self.batch_size = path, batch_size
        self.default_batch_size = batch_size
        self.model = TransformerModel.from_dir(path)
        for key in ("query_maxlen", "doc_maxlen"):  # never past the position table
            self.settings[key] = min(int(self.settings[key]), self.model.max_length)
        if self.model.config.get("model_type") not in ("bert", "roberta", "xlm-roberta"):
            raise ModelNotFoundError(
                f"{path} is a {self.model.config.get('model_type')!r} model; ColBERT needs a "
                "BERT-family encoder (model_type bert, roberta or xlm-roberta)"
            )
        self.linear, projection = _projection(path, self.model)
        dim = int(self.linear.shape[0])
        declared = self.settings.get("declared_dim")
        if declared is not None and int(declared) != dim:
            raise ModelNotFoundError(
                f"{path} declares dim {declared} but its projection has {dim} rows; "
                "the checkpoint is inconsistent: re-export it"
            )
        tok = self.model.tokenizer
        self.ids = {}
        for role, key in (("query", "query_token_id"), ("doc", "doc_token_id")):
            token_id = tok.token_to_id(str(self.settings[key]))
            if token_id is None:
                raise ModelNotFoundError(
                    f"the tokenizer of {path} has no marker token {self.settings[key]!r}; "
                    "a ColBERT checkpoint's vocabulary includes its query/document markers"
                )
            self.ids[role] = token_id
        for role in ("cls", "sep", "mask", "pad"):
            name = {"cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]", "pad": "[PAD]"}[role]
            alt = {"cls": "<s>", "sep": "</s>", "mask": "<mask>", "pad": "<pad>"}[role]
            token_id = tok.token_to_id(name)
            self.ids[role] = token_id if token_id is not None else tok.token_to_id(alt)
        self.skiplist = (
            {
                ids[0]
                for s in string.punctuation
                if len(ids := tok.encode(s, add_special_tokens=False).ids) == 1
            }
            if self.settings["mask_punctuation"]
            else set()
        )
        self.space = EmbeddingSpace(
            model=str(path.resolve()),
            dim=dim,
            fingerprint=_fingerprint(self.model, projection),
            tokenizer=self.model.tokenizer_hash,
            pooling=POOLING,
            normalize=True,
            query_prefix=str(self.settings["query_token_id"]),
            document_prefix=str(self.settings["doc_token_id"]),
            max_tokens=int(self.settings["doc_maxlen"]),
            precision=self.model.precision,
            extra=tuple(
                (key, json.dumps(self.settings[key]))
                for key in ("attend_to_mask_tokens", "mask_punctuation", "query_maxlen")
            ),
        )

    def batch(self, texts: Sequence[str], kind: Kind | str) -> TokenBatch:
        """[CLS] marker tokens [SEP], truncated; queries [MASK]-padded to query_maxlen."""
        kind = Kind.parse(kind)
        is_query = kind is Kind.QUERY
        limit = int(self.settings["query_maxlen" if is_query else "doc_maxlen"])
        marker = self.ids["query" if is_query else "doc"]
        encodings = self.model.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        words = [e.ids[: sum(e.attention_mask)] for e in encodings]  # drop batch padding
        rows = [[self.ids["cls"], marker, *w[: limit - 3], self.ids["sep"]] for w in words]
        truncated = np.array(
            [
                len(w) > limit - 3 or bool(e.overflowing)
                for w, e in zip(words, encodings, strict=True)
            ],
            dtype=bool,
        )
        width = limit if is_query else max((len(r) for r in rows), default=0)
        fill = self.ids["mask"] if is_query else self.ids["pad"]
        input_ids = np.full((len(rows), width), fill, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        if is_query and self.settings["attend_to_mask_tokens"]:
            mask[:] = 1
        return TokenBatch(
            input_ids,
            mask,
            np.zeros_like(input_ids),
            np.zeros((*input_ids.shape, 2), np.int64),
            truncated,
        )

    def encode_batch(self, texts: list[str], kind: Kind) -> list[np.ndarray]:
        """Queries keep every position ([MASK] padding included); documents drop
        punctuation and padding."""
        batch = self.batch(texts, kind)
        vectors = self.model.hidden_states(batch) @ self.linear.T
        vectors /= np.maximum(np.linalg.norm(vectors, axis=2, keepdims=True), 1e-12)
        if kind is Kind.QUERY:
            return list(vectors)
        out = []
        for i in range(len(vectors)):
            ids = batch.input_ids[i]
            keep = (batch.attention_mask[i] == 1) & ~np.isin(ids, list(self.skiplist))
            out.append(np.ascontiguousarray(vectors[i][keep]))
        return out

    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this encoder."""
        return {"model": str(self.model_dir), "batch_size": self.batch_size}
