"""Build a BERT-family encoder as an ONNX graph straight from safetensors tensors.

No PyTorch: the graph is written op by op with `onnx.helper`, with the weights as
initializers. It mirrors Hugging Face's `BertModel` / `RobertaModel` / `MPNetModel` forward
pass (post-LayerNorm encoder, exact erf GELU, learned absolute positions, plus MPNet's
relative-position attention bias) so `last_hidden_state` matches the reference to float32
rounding. ONNX Runtime's graph optimiser fuses the standard ops (LayerNorm, bias + GELU).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from embedstack.encoders.families import NATIVE_TYPES, Family
from embedstack.errors import EmbedstackError

OPSET = 17
TensorGetter = Callable[[str], np.ndarray]


class _Builder:
    """Tiny helper that names nodes and collects initializers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._count += 1
        out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def weight_prefix(names: list[str]) -> str:
    """The prefix in front of `embeddings.word_embeddings.weight` (`bert.`, `roberta.`, ...)."""
    suffix = "embeddings.word_embeddings.weight"
    for name in names:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    raise EmbedstackError(
        "model.safetensors has no 'embeddings.word_embeddings.weight' tensor, so it is not a "
        "BERT-family encoder the built-in converter understands; install the torch extra "
        "(pip install 'embedstack[torch]') to export other architectures"
    )


def _activation(b: _Builder, x: str, act: str) -> str:
    if act == "gelu":  # exact: 0.5 * x * (1 + erf(x / sqrt(2)))
        inner = b.op("Erf", [b.op("Div", [x, "c_sqrt2"])])
        return b.op("Mul", [b.op("Mul", [x, b.op("Add", [inner, "c_one"])]), "c_half"])
    if act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        cube = b.op("Mul", [b.op("Mul", [b.op("Mul", [x, x]), x]), "c_gelu_k"])
        inner = b.op("Mul", [b.op("Add", [x, cube]), "c_sqrt_2_pi"])
        return b.op(
            "Mul", [b.op("Mul", [x, b.op("Add", [b.op("Tanh", [inner]), "c_one"])]), "c_half"]
        )
    if act == "relu":
        return b.op("Relu", [x])
    if act in ("silu", "swish"):
        return b.op("Mul", [x, b.op("Sigmoid", [x])])
    raise EmbedstackError(f"activation {act!r} is not supported by the built-in ONNX converter")


def _linear(b: _Builder, x: str, get: TensorGetter, name: str) -> str:
    weight = b.const(f"{name}.weight.T", get(f"{name}.weight").T.astype(np.float32))
    bias = b.const(f"{name}.bias", get(f"{name}.bias").astype(np.float32))
    return b.op("Add", [b.op("MatMul", [x, weight]), bias])


def _layer_norm(b: _Builder, x: str, get: TensorGetter, name: str, eps: float) -> str:
    scale = b.const(f"{name}.weight", get(f"{name}.weight").astype(np.float32))
    bias = b.const(f"{name}.bias", get(f"{name}.bias").astype(np.float32))
    return b.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)


def relative_bias_table(weight: np.ndarray, size: int, max_distance: int = 128) -> np.ndarray:
    """MPNet's bucketed relative-position bias for every (query, key) pair below `size`:
    (heads, size, size). Computed in float32 like the reference so bucket edges agree."""
    half = weight.shape[0] // 2
    n = np.arange(size)[:, None] - np.arange(size)[None, :]  # context - memory
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    ratio = np.maximum(n, 1).astype(np.float32) / np.float32(max_exact)
    scaled = (
        np.log(ratio)
        / np.float32(math.log(max_distance / max_exact))
        * np.float32(half - max_exact)
    )
    large = np.minimum(max_exact + scaled.astype(np.int64), half - 1)
    ret += np.where(n < max_exact, n, large)
    return np.ascontiguousarray(weight[ret].transpose(2, 0, 1).astype(np.float32))


def _positions(b: _Builder, scheme: str, pad_id: int) -> str:
    """Position ids: 0..t-1 for BERT; for RoBERTa, cumsum of non-pad tokens + padding_idx."""
    if scheme == "absolute":
        length = b.op("Gather", [b.op("Shape", ["input_ids"]), "c_i1"], axis=0)
        return b.op("Unsqueeze", [b.op("Range", ["c_i0", length, "c_i1"]), "c_axes0"])
    b.const("c_pad", np.array(pad_id, dtype=np.int64))
    not_pad = b.op(
        "Cast", [b.op("Not", [b.op("Equal", ["input_ids", "c_pad"])])], to=TensorProto.INT64
    )
    running = b.op("CumSum", [not_pad, "c_i1"])
    return b.op("Add", [b.op("Mul", [running, not_pad]), "c_pad"])


def _attention(
    b: _Builder,
    x: str,
    mask: str,
    get: TensorGetter,
    *,
    name: str,
    cfg: dict[str, Any],
    family: Family,
) -> str:
    heads, hidden = int(cfg["num_attention_heads"]), int(cfg["hidden_size"])
    split = b.const(f"{name}.split_shape", np.array([0, 0, heads, hidden // heads], dtype=np.int64))

    def project(part: str, perm: list[int]) -> str:
        y = _linear(b, x, get, f"{name}.{part}")
        return b.op("Transpose", [b.op("Reshape", [y, split])], perm=perm)

    q = project(family.query, [0, 2, 1, 3])
    k = project(family.key, [0, 2, 3, 1])
    v = project(family.value, [0, 2, 1, 3])
    b.const(f"{name}.scale", np.array(math.sqrt(hidden // heads), dtype=np.float32))
    scores = b.op("Add", [b.op("Div", [b.op("MatMul", [q, k]), f"{name}.scale"]), mask])
    context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    merged = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), "c_merge_shape"])
    out = _linear(b, merged, get, f"{name}.{family.out}")
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    return _layer_norm(b, b.op("Add", [out, x]), get, f"{name}.{family.norm}", eps)


def build_encoder_graph(
    config: dict[str, Any], get: TensorGetter, names: list[str]
) -> onnx.ModelProto:
    """The encoder of a BERT/RoBERTa/XLM-R/MPNet checkpoint as an ONNX model.

    Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, (batch, tokens));
    output `last_hidden_state` (float32, (batch, tokens, hidden)).
    """
    model_type = str(config.get("model_type", ""))
    family = NATIVE_TYPES.get(model_type)
    if family is None:
        raise EmbedstackError(
            f"model_type {model_type!r} is not built in; supported: {sorted(NATIVE_TYPES)}"
        )
    if (config.get("position_embedding_type") or "absolute") != "absolute":
        raise EmbedstackError(
            f"position_embedding_type {config['position_embedding_type']!r} is not supported by "
            "the built-in converter (only 'absolute'); install 'embedstack[torch]' to export it"
        )
    prefix = weight_prefix(names)

    def get_prefixed(name: str) -> np.ndarray:
        return get(prefix + name)

    b = _Builder()
    hidden = int(config["hidden_size"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    floats = {"c_sqrt2": math.sqrt(2.0), "c_one": 1.0, "c_half": 0.5, "c_gelu_k": 0.044715}
    floats["c_sqrt_2_pi"] = math.sqrt(2.0 / math.pi)
    for name, value in floats.items():
        b.const(name, np.array(value, dtype=np.float32))
    for name, value in {"c_i0": 0, "c_i1": 1}.items():
        b.const(name, np.array(value, dtype=np.int64))
    b.const("c_axes0", np.array([0], dtype=np.int64))
    b.const("c_axes1", np.array([1], dtype=np.int64))
    b.const("c_axes2", np.array([2], dtype=np.int64))
    b.const("c_merge_shape", np.array([0, 0, hidden], dtype=np.int64))
    b.const("c_neg", np.array(np.finfo(np.float32).min, dtype=np.float32))

    emb = "embeddings"
    words = b.op(
        "Gather",
        [
            b.const(
                "word_embeddings", get_prefixed(f"{emb}.word_embeddings.weight").astype(np.float32)
            ),
            "input_ids",
        ],
    )
    positions = _positions(b, family.positions, int(config.get("pad_token_id", 1)))
    pos_table = get_prefixed(f"{emb}.position_embeddings.weight").astype(np.float32)
    x = b.op("Add", [words, b.op("Gather", [b.const("position_embeddings", pos_table), positions])])
    if f"{prefix}{emb}.token_type_embeddings.weight" in names:
        types = get_prefixed(f"{emb}.token_type_embeddings.weight").astype(np.float32)
        x = b.op(
            "Add", [x, b.op("Gather", [b.const("token_type_embeddings", types), "token_type_ids"])]
        )
    x = _layer_norm(b, x, get_prefixed, f"{emb}.LayerNorm", eps)

    # Additive mask (batch, 1, 1, tokens): 0 where attended, float32 min at padding.
    # Built in Hugging Face's order (Unsqueeze, Unsqueeze, Cast, Sub, Mul) so ONNX Runtime's
    # transformer optimiser recognises it and fuses each layer into one Attention op.
    expanded = b.op("Unsqueeze", [b.op("Unsqueeze", ["attention_mask", "c_axes1"]), "c_axes2"])
    keep = b.op("Cast", [expanded], to=TensorProto.FLOAT)
    mask = b.op("Mul", [b.op("Sub", ["c_one", keep]), "c_neg"])
    if family.relative_bias:  # the same (1, heads, t, t) bias in every layer, folded into the mask
        table = relative_bias_table(
            get_prefixed("encoder.relative_attention_bias.weight").astype(np.float32),
            int(config["max_position_embeddings"]),
        )
        b.const("c_start1", np.array([1], dtype=np.int64))
        b.const("c_end2", np.array([2], dtype=np.int64))
        b.const("c_starts00", np.array([0, 0], dtype=np.int64))
        b.const("c_axes12", np.array([1, 2], dtype=np.int64))
        length = b.op("Slice", [b.op("Shape", ["input_ids"]), "c_start1", "c_end2", "c_axes0"])
        ends = b.op("Concat", [length, length], axis=0)
        bias = b.op("Slice", [b.const("relative_bias", table), "c_starts00", ends, "c_axes12"])
        mask = b.op("Add", [mask, b.op("Unsqueeze", [bias, "c_axes0"])])

    act = str(config.get("hidden_act", "gelu"))
    for i in range(int(config["num_hidden_layers"])):
        layer = f"encoder.layer.{i}"
        x = _attention(
            b, x, mask, get_prefixed, name=f"{layer}.attention", cfg=config, family=family
        )
        inner = _activation(b, _linear(b, x, get_prefixed, f"{layer}.intermediate.dense"), act)
        out = _linear(b, inner, get_prefixed, f"{layer}.output.dense")
        x = _layer_norm(b, b.op("Add", [out, x]), get_prefixed, f"{layer}.output.LayerNorm", eps)
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    ids = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    out_info = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden]
    )
    graph = helper.make_graph(b.nodes, f"{model_type}_encoder", ids, [out_info], b.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="embedstack"
    )
    model.ir_version = 8
    return model
