"""CLIP and SigLIP dual encoders from a Hugging Face folder, on ONNX Runtime.

`load_dual_encoder(path)` reads `config.json`, `tokenizer.json`,
`preprocessor_config.json` and `model.safetensors`, builds both towers as ONNX graphs
(`clip_graph`, cached under `cache_dir("onnx")` by weights hash) and returns a
`DualEncoder`: `.text` is an ordinary dense `Encoder` (so a collection of images is an
ordinary collection whose queries are texts), `.image` an `ImageEncoder`; both share
one `EmbeddingSpace`. The logit scale (and SigLIP's bias) turn cosines into match
probabilities: a softmax over labels for CLIP, an independent sigmoid for SigLIP.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.config import cache_dir
from embedstack.encoders.base import Encoder
from embedstack.encoders.clip_config import DualConfig, read_dual_config
from embedstack.encoders.images import ImageEncoder, Preprocessing
from embedstack.encoders.transformer import _session, file_sha256
from embedstack.errors import InputError
from embedstack.text.tokenize import HFTokenizer, Tokenizer
from embedstack.types import EmbeddingSpace, Kind

log = logging.getLogger(__name__)


def _cached_graph(cfg: DualConfig, tower: str, tensors: Any) -> Path:
    from embedstack.atomic import write_bytes
    from embedstack.encoders.clip_graph import GRAPH_VERSION, build_text_graph, build_vision_graph

    settings = json.dumps([cfg.text, cfg.vision], sort_keys=True).encode()
    key = f"{cfg.fingerprint[:24]}-{hashlib.sha256(settings).hexdigest()[:8]}"
    target = cache_dir("onnx") / f"{key}-{cfg.family}-{tower}-g{GRAPH_VERSION}.onnx"
    if not target.is_file():
        log.info("building the %s %s tower of %s as ONNX (one-off)", cfg.family, tower, cfg.path)
        if tower == "text":
            model = build_text_graph(cfg.family, cfg.text, tensors.get)
        else:
            projection = tensors.get("visual_projection.weight") if cfg.family == "clip" else None
            model = build_vision_graph(cfg.family, cfg.vision, tensors.get, projection)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, model.SerializeToString())
    return target


def _space(cfg: DualConfig, dim: int, preprocess: Preprocessing) -> EmbeddingSpace:
    images = hashlib.sha256(json.dumps(preprocess.to_dict(), sort_keys=True).encode()).hexdigest()
    return EmbeddingSpace(
        model=str(cfg.path),
        dim=dim,
        fingerprint=cfg.fingerprint,
        tokenizer=file_sha256(cfg.path / "tokenizer.json"),
        pooling="eos" if cfg.family == "clip" else "last",
        normalize=True,
        max_tokens=int(cfg.text["max_position_embeddings"]),
        extra=(
            ("family", cfg.family),
            ("image_preprocessing", images[:16]),
            ("towers", "text+image"),
        ),
    )


class DualTextEncoder(Encoder):
    """The text tower: an ordinary dense encoder into the joint space. Texts longer
    than the tower's context (CLIP: 77 tokens, SigLIP: 64) are cut, with a warning."""

    def __init__(self, cfg: DualConfig, session: Any, projection: np.ndarray,
                 bias: np.ndarray | None, space: EmbeddingSpace) -> None:  # fmt: skip
        from tokenizers import Tokenizer

        self.cfg, self.session, self.space = cfg, session, space
        self.spec = str(cfg.path)
        self.projection, self.bias = projection, bias
        self.max_length = int(cfg.text["max_position_embeddings"])
        self.tokenizer = Tokenizer.from_file(str(cfg.path / "tokenizer.json"))
        pad_token = cfg.tokenizer.get("pad_token")
        if isinstance(pad_token, dict):
            pad_token = pad_token.get("content")
        pad_id = self.tokenizer.token_to_id(pad_token) if isinstance(pad_token, str) else None
        self.pad_id = int(pad_id if pad_id is not None else cfg.text.get("pad_token_id") or 0)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        # SigLIP was trained on texts padded to the full context, pooled at the last position
        # and (with its own tokenizer) attending to the padding too; SigLIP2's Gemma tokenizer
        # returns an attention mask, which the reference model then applies.
        self.fixed_length = cfg.family == "siglip"
        self.use_mask = cfg.family == "clip" or cfg.tokenizer.get("tokenizer_class") not in (
            "SiglipTokenizer",
            None,
        )

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """(ids, mask, number of truncated texts), padded to the longest (CLIP) or full context."""
        encodings = self.tokenizer.encode_batch(texts)
        width = self.max_length if self.fixed_length else max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        return ids, mask, sum(bool(e.overflowing) for e in encodings)

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states of the text tower for padded ids and their mask."""
        n, t = ids.shape
        neg = np.finfo(np.float32).min
        blocked = np.zeros((n, 1, t, t), dtype=bool)
        if self.use_mask:
            blocked |= (mask == 0)[:, None, None, :]
        if self.cfg.family == "clip":
            blocked |= np.triu(np.ones((t, t), dtype=bool), k=1)[None, None]
        bias = np.where(blocked, neg, 0.0).astype(np.float32)
        feeds = {
            "input_ids": ids,
            "position_ids": np.arange(t, dtype=np.int64)[None],
            "attention_bias": bias,
        }
        return np.asarray(self.session.run(["last_hidden_state"], feeds)[0], dtype=np.float32)

    def pool(self, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """CLIP: the end-of-text token (legacy configs: the highest id); SigLIP: the last."""
        if self.cfg.family == "siglip":
            pooled = hidden[:, -1]
        else:
            eos = int(self.cfg.text.get("eos_token_id") or 2)
            where = ids.argmax(axis=1) if eos == 2 else (ids == eos).argmax(axis=1)
            pooled = hidden[np.arange(len(ids)), where]
        out = pooled @ self.projection.T
        return out + self.bias if self.bias is not None else out

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """Tokenize, run the tower, pool and project one batch."""
        ids, mask, truncated = self.tokenize(texts)
        if truncated:
            log.warning(
                "%d text(s) were longer than %s's %d-token text context and were truncated",
                truncated, self.cfg.family.upper(), self.max_length,
            )  # fmt: skip
        return self.pool(self.hidden_states(ids, mask), ids).astype(np.float32)

    def span_tokenizer(self) -> Tokenizer:
        """The tower's own tokenizer, for token-aware chunking."""
        return HFTokenizer(self.tokenizer)

    def special_tokens(self) -> int:
        """Start/end tokens the tokenizer adds to every text."""
        return int(self.tokenizer.num_special_tokens_to_add(False))

    def count_tokens(self, texts: Any) -> list[int]:
        """Tokens each text has before truncation, special tokens included."""
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(self.tokenizer.to_str())
        counter.no_truncation()
        items = list(texts)
        return [len(e.ids) for e in counter.encode_batch(items)] if items else []


class DualImageEncoder(ImageEncoder):
    """The image tower: preprocessed pixels -> the vision graph -> joint-space vectors."""

    def __init__(self, session: Any, preprocess: Preprocessing, space: EmbeddingSpace) -> None:
        self.session, self.preprocess, self.space = session, preprocess, space

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Image embeddings for a batch of preprocessed pixel arrays."""
        return np.asarray(self.session.run(["image_embeds"], {"pixel_values": pixels})[0])


@dataclass
class DualEncoder:
    """Both towers plus the calibration that turns similarities into probabilities."""

    family: str
    text: DualTextEncoder
    image: DualImageEncoder
    logit_scale: float  # already exponentiated
    logit_bias: float = 0.0

    @property
    def space(self) -> EmbeddingSpace:
        """The text tower's embedding space, shared by both towers."""
        return self.text.space

    def logits(self, image_vectors: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
        """(images, texts) logits from unit vectors: scale * cosine (+ bias for SigLIP)."""
        return (image_vectors @ text_vectors.T) * self.logit_scale + self.logit_bias

    def probabilities(self, image_vectors: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
        """CLIP: softmax over the labels (they compete); SigLIP: sigmoid per pair."""
        logits = self.logits(image_vectors, text_vectors).astype(np.float64)
        if self.family == "siglip":
            return 1.0 / (1.0 + np.exp(-logits))
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


def load_dual_encoder(path: str | Path) -> DualEncoder:
    """Both towers of a CLIP/SigLIP folder (graphs built once, then cached)."""
    from embedstack.encoders.weights import SafetensorsFile

    cfg = read_dual_config(path)
    preprocess = Preprocessing.from_dir(cfg.path)
    with SafetensorsFile(cfg.path / "model.safetensors") as tensors:
        names = tensors.names()
        towers = {p.split(".", 1)[0] for p in names}
        if not {"text_model", "vision_model"} <= towers:
            raise InputError(
                f"{cfg.path}: model.safetensors holds {sorted(towers)[:8]}, not both "
                "text_model.* and vision_model.*: this is not a full dual encoder checkpoint"
            )
        text_graph, vision_graph = (
            _cached_graph(cfg, "text", tensors),
            _cached_graph(cfg, "vision", tensors),
        )
        if cfg.family == "clip":
            projection, bias = tensors.get("text_projection.weight").astype(np.float32), None
            scale = float(np.exp(tensors.get("logit_scale").astype(np.float64).reshape(-1)[0]))
            offset = 0.0
        else:
            projection = tensors.get("text_model.head.weight").astype(np.float32)
            bias = tensors.get("text_model.head.bias").astype(np.float32)
            scale = float(np.exp(tensors.get("logit_scale").astype(np.float64).reshape(-1)[0]))
            offset = float(tensors.get("logit_bias").astype(np.float64).reshape(-1)[0])
    space = _space(cfg, int(projection.shape[0]), preprocess)
    text = DualTextEncoder(cfg, _session(text_graph), projection, bias, space)
    image = DualImageEncoder(_session(vision_graph), preprocess, space)
    return DualEncoder(cfg.family, text, image, scale, offset)


def load_text_tower(spec: str, **options: Any) -> DualTextEncoder:
    """The registry's loader for dual-encoder folders: the text tower only."""
    if options:
        raise InputError(f"a CLIP/SigLIP text tower takes no options, got {sorted(options)}")
    return load_dual_encoder(spec).text
