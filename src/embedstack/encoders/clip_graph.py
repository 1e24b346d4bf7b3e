"""Build CLIP and SigLIP towers as ONNX graphs straight from safetensors tensors.

No PyTorch, like `onnx_export` for text encoders: each tower is written op by op with
the weights as initializers, mirroring Hugging Face's `CLIPModel` / `SiglipModel`
(pre-LayerNorm transformer layers, patch embedding as a strided Conv, CLIP's class
token and projection, SigLIP's attention-pooling head). The text graph returns
`last_hidden_state` after the final LayerNorm; pooling (CLIP's end-of-text token,
SigLIP's last position) and the text projection are a gather and a matmul in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from embedstack.encoders.onnx_export import OPSET, _activation, _Builder, _layer_norm, _linear
from embedstack.errors import EmbedstackError

# Bump when the graph layout changes, so cached graphs are rebuilt.
GRAPH_VERSION = 1
TensorGetter = Callable[[str], np.ndarray]


def _act(b: _Builder, x: str, act: str) -> str:
    if act == "quick_gelu":  # CLIP: x * sigmoid(1.702 x)
        return b.op("Mul", [x, b.op("Sigmoid", [b.op("Mul", [x, "c_quick"])])])
    return _activation(b, x, act)


def _constants(b: _Builder) -> None:
    floats = {"c_sqrt2": math.sqrt(2.0), "c_one": 1.0, "c_half": 0.5, "c_gelu_k": 0.044715}
    floats["c_sqrt_2_pi"] = math.sqrt(2.0 / math.pi)
    floats["c_quick"] = 1.702
    for name, value in floats.items():
        b.const(name, np.array(value, dtype=np.float32))
    b.const("c_i0", np.array([0], dtype=np.int64))
    b.const("c_i1", np.array([1], dtype=np.int64))


def _split_heads(b: _Builder, x: str, heads: int, head_dim: int, perm: list[int]) -> str:
    shape = b.const(f"split_{b._count}", np.array([0, 0, heads, head_dim], dtype=np.int64))
    return b.op("Transpose", [b.op("Reshape", [x, shape])], perm=perm)


def _merge_heads(b: _Builder, x: str, hidden: int) -> str:
    shape = b.const(f"merge_{b._count}", np.array([0, 0, hidden], dtype=np.int64))
    return b.op("Reshape", [b.op("Transpose", [x], perm=[0, 2, 1, 3]), shape])


def _attend(b: _Builder, q: str, k: str, v: str, bias: str | None, *, head_dim: int) -> str:
    """softmax(q k^T / sqrt(d) + bias) v with q, v (b, h, t, d) and k (b, h, d, t)."""
    scale = b.const(f"scale_{b._count}", np.array(math.sqrt(head_dim), dtype=np.float32))
    scores = b.op("Div", [b.op("MatMul", [q, k]), scale])
    if bias is not None:
        scores = b.op("Add", [scores, bias])
    return b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])


def _encoder(
    b: _Builder, x: str, bias: str | None, get: TensorGetter, *, prefix: str, cfg: dict[str, Any]
) -> str:
    """Pre-LayerNorm layers: x + attn(ln1(x)), then x + mlp(ln2(x))."""
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(cfg.get("layer_norm_eps", 1e-5))
    act = str(cfg.get("hidden_act", "quick_gelu"))
    for i in range(int(cfg["num_hidden_layers"])):
        layer = f"{prefix}encoder.layers.{i}"
        h = _layer_norm(b, x, get, f"{layer}.layer_norm1", eps)
        q = _split_heads(
            b, _linear(b, h, get, f"{layer}.self_attn.q_proj"), heads, head_dim, [0, 2, 1, 3]
        )
        k = _split_heads(
            b, _linear(b, h, get, f"{layer}.self_attn.k_proj"), heads, head_dim, [0, 2, 3, 1]
        )
        v = _split_heads(
            b, _linear(b, h, get, f"{layer}.self_attn.v_proj"), heads, head_dim, [0, 2, 1, 3]
        )
        context = _merge_heads(b, _attend(b, q, k, v, bias, head_dim=head_dim), hidden)
        x = b.op("Add", [x, _linear(b, context, get, f"{layer}.self_attn.out_proj")])
        h = _layer_norm(b, x, get, f"{layer}.layer_norm2", eps)
        h = _linear(
            b, _act(b, _linear(b, h, get, f"{layer}.mlp.fc1"), act), get, f"{layer}.mlp.fc2"
        )
        x = b.op("Add", [x, h])
    return x


def _model(
    b: _Builder, name: str, inputs: list[Any], output: str, shape: list[Any]
) -> onnx.ModelProto:
    b.nodes.append(helper.make_node("Identity", [b.nodes[-1].output[0]], [output], name="output"))
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)
    graph = helper.make_graph(b.nodes, name, inputs, [out], b.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="embedstack"
    )
    model.ir_version = 8
    return model


def build_text_graph(family: str, cfg: dict[str, Any], get: TensorGetter) -> onnx.ModelProto:
    """Inputs `input_ids` (b, t) int64, `position_ids` (1, t) int64, `attention_bias`
    (b, 1, t, t) float32 (0 or float32 min: the causal and padding masks, built by the
    caller); output `last_hidden_state` (b, t, hidden) after the final LayerNorm."""
    b = _Builder()
    _constants(b)
    p = "text_model."
    tokens = b.const("token_table", get(f"{p}embeddings.token_embedding.weight").astype(np.float32))
    positions = b.const(
        "position_table", get(f"{p}embeddings.position_embedding.weight").astype(np.float32)
    )
    x = b.op(
        "Add", [b.op("Gather", [tokens, "input_ids"]), b.op("Gather", [positions, "position_ids"])]
    )
    x = _encoder(b, x, "attention_bias", get, prefix=p, cfg=cfg)
    eps = float(cfg.get("layer_norm_eps", 1e-5))
    _layer_norm(b, x, get, f"{p}final_layer_norm", eps)
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, [1, "tokens"]),
        helper.make_tensor_value_info(
            "attention_bias", TensorProto.FLOAT, ["batch", 1, "tokens", "tokens"]
        ),
    ]
    hidden = int(cfg["hidden_size"])
    return _model(b, f"{family}_text", inputs, "last_hidden_state", ["batch", "tokens", hidden])


def _patches(b: _Builder, get: TensorGetter, p: str, cfg: dict[str, Any], bias: bool) -> str:
    """(b, 3, H, W) -> (b, patches, hidden) with one strided Conv."""
    size = int(cfg["patch_size"])
    inputs = [
        "pixel_values",
        b.const("patch_weight", get(f"{p}embeddings.patch_embedding.weight").astype(np.float32)),
    ]
    if bias:
        inputs.append(
            b.const("patch_bias", get(f"{p}embeddings.patch_embedding.bias").astype(np.float32))
        )
    conv = b.op("Conv", inputs, kernel_shape=[size, size], strides=[size, size])
    flat = b.op("Reshape", [conv, b.const("c_flat", np.array([0, 0, -1], dtype=np.int64))])
    return b.op("Transpose", [flat], perm=[0, 2, 1])


def _siglip_head(b: _Builder, x: str, get: TensorGetter, cfg: dict[str, Any]) -> str:
    """Multi-head attention pooling: a learned probe attends over the patches, then a
    residual MLP; the probe's query projection is a constant, computed here."""
    h = "vision_model.head."
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    head_dim = hidden // heads
    w, bias = (
        get(f"{h}attention.in_proj_weight").astype(np.float32),
        get(f"{h}attention.in_proj_bias").astype(np.float32),
    )
    probe = get(f"{h}probe").astype(np.float32).reshape(1, hidden)
    query = (probe @ w[:hidden].T + bias[:hidden]).reshape(1, heads, 1, head_dim)
    q = b.const("probe_query", np.ascontiguousarray(query))

    def project(part: int, perm: list[int]) -> str:
        rows = slice(part * hidden, (part + 1) * hidden)
        weight = b.const(f"head_w{part}", np.ascontiguousarray(w[rows].T))
        y = b.op("Add", [b.op("MatMul", [x, weight]), b.const(f"head_b{part}", bias[rows])])
        return _split_heads(b, y, heads, head_dim, perm)

    k, v = project(1, [0, 2, 3, 1]), project(2, [0, 2, 1, 3])
    pooled = _merge_heads(b, _attend(b, q, k, v, None, head_dim=head_dim), hidden)  # (b, 1, hidden)
    pooled = _linear(b, pooled, get, f"{h}attention.out_proj")
    eps = float(cfg.get("layer_norm_eps", 1e-6))
    y = _layer_norm(b, pooled, get, f"{h}layernorm", eps)
    act = str(cfg.get("hidden_act", "gelu_pytorch_tanh"))
    y = _linear(b, _act(b, _linear(b, y, get, f"{h}mlp.fc1"), act), get, f"{h}mlp.fc2")
    return b.op("Squeeze", [b.op("Add", [pooled, y]), "c_i1"])


def build_vision_graph(
    family: str, cfg: dict[str, Any], get: TensorGetter, projection: np.ndarray | None
) -> onnx.ModelProto:
    """Input `pixel_values` (b, 3, size, size) float32, preprocessed; output
    `image_embeds` (b, dim), not normalised: CLIP's projected class token, or SigLIP's
    attention-pooled patches."""
    b = _Builder()
    _constants(b)
    p = "vision_model."
    eps = float(cfg.get("layer_norm_eps", 1e-5))
    hidden = int(cfg["hidden_size"])
    positions = get(f"{p}embeddings.position_embedding.weight").astype(np.float32)
    if family == "clip":
        x = _patches(b, get, p, cfg, bias=False)
        cls = get(f"{p}embeddings.class_embedding").astype(np.float32).reshape(1, 1, hidden)
        batch = b.op("Slice", [b.op("Shape", ["pixel_values"]), "c_i0", "c_i1"])
        shape = b.op(
            "Concat", [batch, b.const("c_1h", np.array([1, hidden], dtype=np.int64))], axis=0
        )
        x = b.op("Concat", [b.op("Expand", [b.const("class_token", cls), shape]), x], axis=1)
        x = b.op("Add", [x, b.const("positions", positions)])
        x = _layer_norm(b, x, get, f"{p}pre_layrnorm", eps)  # sic: Hugging Face's name
        x = _encoder(b, x, None, get, prefix=p, cfg=cfg)
        first = b.op("Squeeze", [b.op("Slice", [x, "c_i0", "c_i1", "c_i1"]), "c_i1"])
        pooled = _layer_norm(b, first, get, f"{p}post_layernorm", eps)
        if projection is None:
            raise EmbedstackError("a CLIP vision tower needs visual_projection.weight")
        b.op("MatMul", [pooled, b.const("visual_projection", np.ascontiguousarray(projection.T))])
        dim = projection.shape[0]
    elif family == "siglip":
        x = b.op("Add", [_patches(b, get, p, cfg, bias=True), b.const("positions", positions)])
        x = _layer_norm(
            b, _encoder(b, x, None, get, prefix=p, cfg=cfg), get, f"{p}post_layernorm", eps
        )
        if cfg.get("vision_use_head", True) is False:
            raise EmbedstackError("SigLIP vision towers without the pooling head are not supported")
        _siglip_head(b, x, get, cfg)
        dim = hidden
    else:
        raise EmbedstackError(f"no vision graph for model family {family!r}")
    size = int(cfg["image_size"])
    pixels = helper.make_tensor_value_info(
        "pixel_values", TensorProto.FLOAT, ["batch", 3, size, size]
    )
    return _model(b, f"{family}_vision", [pixels], "image_embeds", ["batch", dim])
