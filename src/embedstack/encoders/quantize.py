"""Make a converted encoder graph fast on CPU: operator fusion, then (optionally) int8.

Run once per model and cached with the graph (see `transformer._cached_onnx`); every
step is checked on a probe batch against the unmodified graph and dropped if it changes
the output, so a speed-up can never silently change vectors.

Fusion: ONNX Runtime's transformer optimiser (`model_type="bert"`) merges each layer's
attention into one `Attention` op and bias + GELU into `BiasGelu`. Residual + LayerNorm
is *not* fused into `SkipLayerNormalization`: on ONNX Runtime 1.32 that CPU kernel took
6.1 ms per 256-token MiniLM run (one thread) where `Add` + `LayerNormalization` take
1.4 ms, i.e. 11% of a float32 run and 23% of an int8 one (`benchmarks/ort_ops.py`).

int8 recipe (`INT8_RECIPE` "q2"; dynamic quantisation: weights int8 once, activations uint8
per batch). Each choice below was measured on MiniLM-L6 as process CPU time with one
intra-op thread (robust on a shared machine), interleaved rounds, medians, on 300 STS-B
sentences and 300 ~24-word SciFact sentences; cosine is to float32 on the same texts.
Full table and command: `benchmarks/int8_variants.py`, docs/benchmarks.md.
- Every weight product is int8: each `MatMul` with a constant weight and the fused QKV
  product inside `Attention` (-> `QAttention`). Activation x activation products (Q.K^T,
  attention x V) stay float32: their per-tensor dynamic range is what ruins a naive
  `quantize_dynamic`. All 24 products int8: 2.1-2.3x float32 (short) / 1.7-2.1x (24
  words), mean cosine 0.992 / 0.993.
- Per-channel weight scales (one per output column): the single largest accuracy win
  (mean cosine 0.955 -> 0.993 on MiniLM), at no measurable speed cost.
- Exactly one product stays float32: layer 0's FFN down-projection (`output.dense`, fed
  by GELU outputs with long tails). Measured one product at a time, it is the most
  sensitive by far (keeping it float32 adds +0.0016 mean cosine; every other product
  +0.0001-0.0007), so keeping it brings MiniLM to 0.994 for ~4% of the int8 speed-up.
  Recipe q1 kept the first half of the layers' down-projections (0.995-0.996) and cost
  ~10-20% of the speed: 1.6x instead of 2x on 24-word sentences.
- Not adopted (measured, no gain beyond noise): static QDQ with activation ranges
  calibrated on a text sample (slower and less accurate than dynamic, see
  docs/benchmarks.md); quantising the Q/K/V products as separate MatMuls instead of
  `QAttention`; tanh-approximated GELU (`FastGelu`).
- `reduce_range` (7-bit weights) only on CPUs without VNNI, where 8-bit u8 x s8 products
  can saturate; the embeddings, LayerNorms and softmax are never quantised.
A model for which the quantiser fails, or whose probe cosine falls below
`MIN_INT8_COSINE`, raises `PrecisionUnavailableError`; the loader then keeps float32.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.errors import EmbedstackError
from embedstack.progress import report_ambient

log = logging.getLogger(__name__)

# Parts of the graph cache key: bump GRAPH_RECIPE when fusion changes (every precision
# is rebuilt), INT8_RECIPE when only the int8 recipe changes (float32 graphs are kept).
GRAPH_RECIPE = "g2"  # g2: residual + LayerNorm left unfused (faster kernels)
INT8_RECIPE = "q2"
MIN_INT8_COSINE = 0.98  # on random-token probes, which are harsher than real text
_FFN_DOWN = re.compile(r"layer\.(\d+)\.output\.dense\.weight")
FLOAT_LAYERS = (0,)  # layers whose FFN down-projection stays float32 (see above)


class PrecisionUnavailableError(EmbedstackError):
    """The requested precision cannot be produced for this model."""


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def probe_batch(config: dict[str, Any], rows: int = 6, tokens: int = 24) -> dict[str, np.ndarray]:
    """Deterministic random token ids with one padded row, for before/after checks."""
    rng = np.random.default_rng(0)
    vocab = int(config.get("vocab_size", 1000))
    ids = rng.integers(min(1000, vocab // 2), vocab, size=(rows, tokens), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[-1, tokens // 2 :] = 0
    ids[-1, tokens // 2 :] = int(config.get("pad_token_id") or 0)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def pooled_outputs(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Unit-length mean-pooled `last_hidden_state` of a graph on `feeds`."""
    session = _session(path)
    names = {i.name for i in session.get_inputs()}
    (hidden,) = session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in names})
    mask = feeds["attention_mask"][:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def fuse(
    source: Path, target: Path, config: dict[str, Any], *, skip_layer_norm: bool = False
) -> bool:
    """Write the fused graph to `target`; False (nothing written) if fusion is not safe.
    `skip_layer_norm=True` (the slower `SkipLayerNormalization`) is for
    `benchmarks/ort_ops.py`; the loader uses the default."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = skip_layer_norm  # slower than Add + LayerNorm (see top)
    # It warns that our graph's producer is not "pytorch"; the probe check below is what counts.
    logging.getLogger("onnxruntime.transformers.optimizer").setLevel(logging.ERROR)
    try:
        model = optimizer.optimize_model(
            str(source),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
            opt_level=0,
            optimization_options=options,
        )
        model.save_model_to_file(str(target))
    except Exception as exc:  # the optimiser raises many types on graphs it does not know
        log.info("graph fusion skipped for %s: %s", source, exc)
        return False
    feeds = probe_batch(config)
    drift = float(np.abs(pooled_outputs(source, feeds) - pooled_outputs(target, feeds)).max())
    if drift > 1e-4:
        log.warning("fused graph differs from the original (max %.2g); not using it", drift)
        target.unlink()
        return False
    log.info("fused graph: %s", model.get_fused_operator_statistics())
    return True


def _has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def sensitive_nodes(
    model: Any, num_layers: int, layers: tuple[int, ...] = FLOAT_LAYERS
) -> list[str]:
    """MatMul nodes to keep in float32: the FFN down-projections of `layers`."""
    weights = {init.name for init in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        for name in node.input:
            match = _FFN_DOWN.search(name) if name in weights else None
            layer = int(match.group(1)) if match else -1
            if node.op_type == "MatMul" and layer in layers and layer < num_layers:
                keep.append(node.name)
    return keep


class _DropQuantizerNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def quantize_int8(
    source: Path,
    target: Path,
    config: dict[str, Any],
    *,
    float_layers: tuple[int, ...] = FLOAT_LAYERS,
    per_channel: bool = True,
) -> None:
    """Quantise `source` (ideally fused) with the recipe above, then check it. The
    keyword knobs exist for `benchmarks/int8_variants.py`; the loader uses the defaults."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    keep = sensitive_nodes(model, int(config.get("num_hidden_layers", 0)), float_layers)
    quiet = _DropQuantizerNotes()  # it logs advice on the root logger; our checks decide
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            model,
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep,
            per_channel=per_channel,
            reduce_range=not _has_vnni(),
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
        )
    except Exception as exc:  # onnxruntime.quantization raises bare exceptions
        raise PrecisionUnavailableError(f"int8 quantisation failed for this model ({exc})") from exc
    finally:
        logging.getLogger().removeFilter(quiet)
    feeds = probe_batch(config)
    cosine = float((pooled_outputs(source, feeds) * pooled_outputs(target, feeds)).sum(1).mean())
    if cosine < MIN_INT8_COSINE:
        target.unlink()
        raise PrecisionUnavailableError(
            f"int8 vectors of this model agree with float32 only to cosine {cosine:.4f} "
            f"(< {MIN_INT8_COSINE})"
        )
    log.info("int8 graph: probe cosine vs float32 %.5f, %d MatMuls kept float32", cosine, len(keep))


def conversion_stage(precision: str) -> tuple[str, int]:
    """Progress stage of a one-off model conversion, and its steps (convert, fuse[, int8])."""
    if precision == "int8":
        return "converting the model to int8 ONNX (one-off)", 3
    return "converting the model to ONNX (one-off)", 2


def finish_graph(raw: Path, target: Path, config: dict[str, Any], precision: str) -> None:
    """Turn a freshly converted float32 graph into the cached one: fused, maybe int8."""
    if raw.with_name(raw.name + ".data").exists():  # >2 GB external data: leave as converted
        if precision == "int8":
            raise PrecisionUnavailableError(
                "int8 is not supported for graphs with external weights"
            )
        shutil.move(raw, target)
        return
    fused = raw.with_name("fused.onnx")
    source = fused if fuse(raw, fused, config) else raw
    if precision == "int8":
        report_ambient(conversion_stage(precision)[0], 2, 3)
        quantize_int8(source, target, config)
    else:
        shutil.copyfile(source, target)
    fused.unlink(missing_ok=True)
