"""A Hugging Face BERT-family checkpoint running on ONNX Runtime, without PyTorch.

`TransformerModel.from_dir` reads `config.json`, `tokenizer.json` and `model.safetensors`,
converts the encoder to ONNX once (cached under `cache_dir("onnx")`, keyed by the weights'
sha256 and the config), and exposes tokenisation plus `hidden_states`. Pooling, heads
(SPLADE, cross-encoders, ColBERT) and normalisation are built on top by their owners.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.config import cache_dir
from embedstack.encoders.digests import file_sha256
from embedstack.encoders.lanes import RunLanes
from embedstack.encoders.quantize import (
    GRAPH_RECIPE,
    INT8_RECIPE,
    PrecisionUnavailableError,
    conversion_stage,
    finish_graph,
)
from embedstack.encoders.runtime import lane_count, make_session, resolve_providers
from embedstack.errors import InputError, ModelNotFoundError
from embedstack.progress import report_ambient

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "int8")


@dataclass
class TokenBatch:
    """A padded batch. `offsets` is (batch, tokens, 2) character spans into each row's
    own text ((0, 0) for special and padding tokens); `truncated` flags rows that were cut
    to `max_length`; `tokens` are the token strings (without padding)."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: np.ndarray
    truncated: np.ndarray
    tokens: list[list[str]] = field(default_factory=list)

    def rows(self, start: int, stop: int) -> TokenBatch:
        """Rows start:stop, with padding columns no row of the slice needs removed."""
        width = int(self.attention_mask[start:stop].sum(axis=1).max(initial=0))
        return TokenBatch(
            input_ids=self.input_ids[start:stop, :width],
            attention_mask=self.attention_mask[start:stop, :width],
            token_type_ids=self.token_type_ids[start:stop, :width],
            offsets=self.offsets[start:stop, :width],
            truncated=self.truncated[start:stop],
            tokens=self.tokens[start:stop],
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"cannot read {path}: {exc}. Is this a Hugging Face model folder?"
        ) from exc


def _position_offset(config: dict[str, Any]) -> int:
    """RoBERTa-style models (and MPNet) number positions from padding_idx + 1."""
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert", "mpnet"):
        return int(config.get("pad_token_id", 1)) + 1
    return 0


def model_max_length(path: Path, config: dict[str, Any]) -> int:
    """sentence-transformers' max_seq_length if present, else the position-table size."""
    limit = int(config.get("max_position_embeddings", 512)) - _position_offset(config)
    st_config = path / "sentence_bert_config.json"
    if st_config.exists():
        value = _read_json(st_config).get("max_seq_length")
        if value:
            return min(int(value), limit)
    return limit


class TransformerModel:
    """Tokenizer + ONNX Runtime session for one checkpoint folder."""

    def __init__(
        self,
        path: Path,
        config: dict[str, Any],
        tokenizer: Any,
        session: Any,
        *,
        max_length: int,
        fingerprint: str,
        tokenizer_hash: str,
        precision: str,
        providers: Sequence[str] = (),
        lanes: int = 1,
    ) -> None:
        self.path = path
        self.config = config
        self.tokenizer = tokenizer
        self.session = session
        self.max_length = max_length
        self.fingerprint = fingerprint
        self.tokenizer_hash = tokenizer_hash
        self.precision = precision
        self.providers = list(providers) or list(session.get_providers())
        self.lanes = RunLanes(lanes)  # concurrent single-threaded runs (encoders/lanes.py)
        intra = int(session.get_session_options().intra_op_num_threads or 1)
        self.threads = intra * self.lanes.lanes  # cores one call keeps busy
        self._inputs = {i.name for i in session.get_inputs()}
        self._unpadded: Any = None
        self.pad_id = _configure_tokenizer(tokenizer, config, max_length)

    @classmethod
    def from_dir(
        cls,
        path: str | Path,
        max_length: int | None = None,
        precision: str = "float32",
        *,
        device: str | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        spin: bool | None = None,
    ) -> TransformerModel:
        """Load (converting once, then cached) the model in a Hugging Face folder.

        `device` ("cpu", "cuda", ...) or `providers` picks the ONNX Runtime execution
        providers (see `embedstack.encoders.runtime`); `threads` the cores to use (on
        CPU, as run lanes: encoders/lanes.py), `spin` whether intra-op threads busy-wait
        (default: only on a machine that is not busy).
        """
        from tokenizers import Tokenizer

        root = Path(path).expanduser()
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            if not (root / name).is_file():
                raise ModelNotFoundError(
                    f"{root} has no {name}: a model folder needs config.json, tokenizer.json and "
                    "model.safetensors (Hugging Face layout)"
                )
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        config = _read_json(root / "config.json")
        limit = model_max_length(root, config)
        hard_limit = int(config.get("max_position_embeddings", 512)) - _position_offset(config)
        if max_length is not None and not 0 < max_length <= hard_limit:
            raise InputError(
                f"max_length must be between 1 and {hard_limit} for this model, got {max_length}"
            )
        length = max_length or limit
        fingerprint = file_sha256(root / "model.safetensors")
        tokenizer_hash = file_sha256(root / "tokenizer.json")
        chosen = resolve_providers(device, providers)  # before any conversion work
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        try:
            onnx_path = _cached_onnx(root, config, fingerprint, precision)
        except PrecisionUnavailableError as exc:
            log.warning("%s; keeping float32", exc)
            precision, onnx_path = "float32", _cached_onnx(root, config, fingerprint, "float32")
        lanes = lane_count(chosen, threads)
        return cls(
            root,
            config,
            tokenizer,
            make_session(onnx_path, chosen, 1 if lanes > 1 else threads, spin),
            max_length=length,
            fingerprint=fingerprint,
            tokenizer_hash=tokenizer_hash,
            precision=precision,
            providers=chosen,
            lanes=lanes,
        )

    @property
    def hidden_size(self) -> int:
        """Width of the hidden states (the pooled vector's dimension)."""
        return int(self.config["hidden_size"])

    def tokenize(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> TokenBatch:
        """Tokenise, truncating to `max_length` and padding to the longest row."""
        if pairs is not None and len(pairs) != len(texts):
            raise InputError(
                f"got {len(texts)} texts but {len(pairs)} pairs; give one pair per text"
            )
        items: list[Any] = (
            list(zip(texts, pairs, strict=True)) if pairs is not None else list(texts)
        )
        return self.pad(self.tokenizer.encode_batch(items) if items else [])

    def encode_unpadded(self, texts: list[str]) -> list[Any]:
        """Truncated, unpadded encodings (for batching by token count, then `pad`)."""
        if self._unpadded is None:
            from tokenizers import Tokenizer

            clone = Tokenizer.from_str(self.tokenizer.to_str())
            clone.no_padding()
            self._unpadded = clone
        return self._unpadded.encode_batch(texts) if texts else []

    def pad(self, encodings: list[Any]) -> TokenBatch:
        """A batch padded to its longest row (never beyond) from tokenizer encodings."""
        n, t = len(encodings), max((len(e.ids) for e in encodings), default=0)
        ids = np.full((n, t), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, t), dtype=np.int64)
        types = np.zeros((n, t), dtype=np.int64)
        offsets = np.zeros((n, t, 2), dtype=np.int64)
        single_segment = int(self.config.get("type_vocab_size", 2)) <= 1  # RoBERTa-style
        for i, enc in enumerate(encodings):
            real = int(sum(enc.attention_mask))
            ids[i, :real] = enc.ids[:real]
            mask[i, :real] = 1
            if not single_segment:
                types[i, :real] = enc.type_ids[:real]
            offsets[i, :real] = np.asarray(enc.offsets[:real], dtype=np.int64).reshape(-1, 2)
        return TokenBatch(
            input_ids=ids,
            attention_mask=mask,
            token_type_ids=types,
            offsets=offsets,
            truncated=np.array([bool(e.overflowing) for e in encodings], dtype=bool),
            tokens=[e.tokens[: int(m.sum())] for e, m in zip(encodings, mask, strict=True)],
        )

    def hidden_states(self, batch: TokenBatch) -> np.ndarray:
        """last_hidden_state, (batch, tokens, hidden) float32; row slices run in parallel
        lanes, at the batch's full width (masked positions such as ColBERT's query
        [MASK]s keep their outputs)."""
        rows, width = batch.input_ids.shape
        if rows == 0:
            return np.zeros((0, width, self.hidden_size), dtype=np.float32)
        feeds = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "token_type_ids": batch.token_type_ids,
        }
        feeds = {k: v for k, v in feeds.items() if k in self._inputs}

        def run(start: int, stop: int) -> np.ndarray:
            part = {k: v[start:stop] for k, v in feeds.items()}
            (out,) = self.session.run(["last_hidden_state"], part)
            return np.asarray(out, dtype=np.float32)

        parts = self.lanes.map(run, rows)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def tensor(self, name: str) -> np.ndarray:
        """Any tensor of model.safetensors by its exact name (MLM head, classifier, ...)."""
        from embedstack.encoders.weights import SafetensorsFile

        with SafetensorsFile(self.path / "model.safetensors") as weights:
            return weights.get(name)


def _configure_tokenizer(tokenizer: Any, config: dict[str, Any], length: int) -> int:
    """Replace the packaged truncation/padding (often fixed at 128) with ours; the pad id."""
    padding = tokenizer.padding or {}
    pad_id = int(padding.get("pad_id", config.get("pad_token_id", 0) or 0))
    pad_token = padding.get("pad_token") or tokenizer.id_to_token(pad_id) or "[PAD]"
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
    tokenizer.enable_truncation(max_length=length)
    return pad_id


def _session(path: Path) -> Any:
    """A CPU session with the default tuning (CLIP towers use it too)."""
    return make_session(path)


def _cached_onnx(root: Path, config: dict[str, Any], fingerprint: str, precision: str) -> Path:
    """Convert once per (weights, config, converter version, precision); reuse afterwards."""
    from embedstack.encoders.families import CONVERTER_VERSION, NATIVE_TYPES

    native = config.get("model_type") in NATIVE_TYPES
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    method = (f"native{CONVERTER_VERSION}" if native else "torch") + f"-{GRAPH_RECIPE}"
    tag = f"{INT8_RECIPE}-int8" if precision == "int8" else precision
    entry = cache_dir("onnx") / f"{fingerprint[:24]}-{config_hash}-{method}-{tag}"
    target = entry / "model.onnx"
    if target.is_file():
        return target
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fp32 = staging / "raw.onnx"
        stage, steps = conversion_stage(precision)
        report_ambient(stage, 0, steps)
        if native:
            _convert_native(root, config, fp32)
        else:
            from embedstack.encoders.torch_export import export_with_torch

            export_with_torch(root, fp32)
        report_ambient(stage, 1, steps)
        finish_graph(fp32, staging / "model.onnx", config, precision)  # fusion, int8
        report_ambient(stage, steps, steps)
        fp32.unlink(missing_ok=True)
        for item in staging.iterdir():
            with item.open("rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.rename(staging, entry)
        except OSError:  # another process finished the same conversion first
            if not target.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_native(root: Path, config: dict[str, Any], target: Path) -> None:
    import onnx

    from embedstack.encoders.onnx_export import build_encoder_graph
    from embedstack.encoders.weights import SafetensorsFile

    log.info("converting %s to ONNX (one-off)", root)
    with SafetensorsFile(root / "model.safetensors") as weights:
        model = build_encoder_graph(config, weights.get, weights.names())
    large = sum(t.ByteSize() for t in model.graph.initializer) > 1_800_000_000
    onnx.save_model(model, str(target), save_as_external_data=large, location=f"{target.name}.data")
