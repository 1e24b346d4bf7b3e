"""The torch-free ONNX backbone against transformers' own forward pass on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_tiny_model, reference_hidden

from embedstack.encoders import transformer as transformer_module
from embedstack.encoders.onnx_export import relative_bias_table
from embedstack.encoders.transformer import TransformerModel
from embedstack.errors import InputError, MissingExtraError, ModelNotFoundError

pytestmark = pytest.mark.torch

TEXTS = ["the cat sat on the mat", "hello", "a big red house by the river ! ?", "dogs ran fast", ""]


@pytest.mark.parametrize("arch", ["bert", "bert-mlm", "roberta", "mpnet"])
def test_hidden_states_match_transformers(tmp_path: Path, arch: str) -> None:
    torch_model = make_tiny_model(tmp_path / arch, arch)
    model = TransformerModel.from_dir(tmp_path / arch)
    batch = model.tokenize(TEXTS)
    ours = model.hidden_states(batch)
    ref = reference_hidden(torch_model, batch)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-4


def test_text_pairs_use_segment_ids(tmp_path: Path) -> None:
    torch_model = make_tiny_model(tmp_path / "m", "bert")
    model = TransformerModel.from_dir(tmp_path / "m")
    batch = model.tokenize(["the cat", "a dog sat"], pairs=["on the mat", "fast"])
    assert batch.token_type_ids.max() == 1
    assert np.abs(model.hidden_states(batch) - reference_hidden(torch_model, batch)).max() < 1e-4
    with pytest.raises(InputError, match="one pair per text"):
        model.tokenize(["a", "b"], pairs=["x"])


def test_roberta_pairs_use_one_segment_id(tmp_path: Path) -> None:
    torch_model = make_tiny_model(tmp_path / "r", "roberta")
    model = TransformerModel.from_dir(tmp_path / "r")
    batch = model.tokenize(["the cat"], pairs=["on the mat"])
    assert not batch.token_type_ids.any()
    assert np.abs(model.hidden_states(batch) - reference_hidden(torch_model, batch)).max() < 1e-4


def test_tokenizer_overrides_packaged_padding_and_truncation(tmp_path: Path) -> None:
    make_tiny_model(tmp_path / "m", "bert", max_positions=64, fixed_length=8)
    (tmp_path / "m" / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 12}))
    model = TransformerModel.from_dir(tmp_path / "m")
    assert model.max_length == 12
    long_text = " ".join(["cat"] * 30)
    batch = model.tokenize(["hello", long_text, "the dog"])
    assert batch.input_ids.shape == (3, 12)  # padded to the longest row, not a fixed 8
    assert batch.truncated.tolist() == [False, True, False]
    assert batch.attention_mask[0].tolist() == [1, 1, 1] + [0] * 9
    assert batch.tokens[0] == ["[CLS]", "hello", "[SEP]"]
    assert batch.offsets[0, 1].tolist() == [0, 5] and batch.offsets[0, 5].tolist() == [0, 0]
    short = TransformerModel.from_dir(tmp_path / "m", max_length=4).tokenize(["the cat sat on"])
    assert short.input_ids.shape == (1, 4) and short.truncated.all()
    with pytest.raises(InputError, match="between 1 and 64"):
        TransformerModel.from_dir(tmp_path / "m", max_length=65)


def test_mpnet_relative_buckets_match_transformers() -> None:
    torch = pytest.importorskip("torch")
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    size = 300
    weight = np.arange(32 * 2, dtype=np.float32).reshape(32, 2)
    ours = relative_bias_table(weight, size)
    rel = torch.arange(size)[None, :] - torch.arange(size)[:, None]
    buckets = MPNetEncoder.relative_position_bucket(rel, num_buckets=32).numpy()
    np.testing.assert_array_equal(ours, weight[buckets].transpose(2, 0, 1))


def test_max_length_defaults_to_position_table_minus_roberta_offset(tmp_path: Path) -> None:
    make_tiny_model(tmp_path / "r", "roberta", max_positions=40)
    assert TransformerModel.from_dir(tmp_path / "r").max_length == 38


def test_graph_is_cached_by_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tiny_model(tmp_path / "m", "bert")
    first = TransformerModel.from_dir(tmp_path / "m")
    assert len(first.fingerprint) == 64 and len(first.tokenizer_hash) == 64

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted twice")

    monkeypatch.setattr(transformer_module, "_convert_native", no_conversion)
    again = TransformerModel.from_dir(tmp_path / "m")
    batch = again.tokenize(["the cat"])
    np.testing.assert_array_equal(again.hidden_states(batch), first.hidden_states(batch))


def test_tensor_reads_extra_weights(tmp_path: Path) -> None:
    torch_model = make_tiny_model(tmp_path / "m", "bert-mlm")
    model = TransformerModel.from_dir(tmp_path / "m")
    bias = model.tensor("cls.predictions.bias")
    np.testing.assert_allclose(bias, torch_model.cls.predictions.bias.detach().numpy())
    with pytest.raises(Exception, match="no tensor"):
        model.tensor("classifier.weight")


def test_missing_files_and_bad_precision(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        TransformerModel.from_dir(tmp_path)
    make_tiny_model(tmp_path / "m", "bert")
    with pytest.raises(InputError, match="precision"):
        TransformerModel.from_dir(tmp_path / "m", precision="float64")


def test_other_architectures_need_the_torch_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tiny_model(tmp_path / "d", "distilbert")
    import embedstack.encoders.torch_export as torch_export

    def missing(module: str, extra: str, purpose: str = "") -> None:
        raise MissingExtraError(f"{module!r} is needed; pip install 'embedstack[{extra}]'")

    monkeypatch.setattr(torch_export, "require", missing)
    with pytest.raises(MissingExtraError, match=r"embedstack\[torch\]"):
        TransformerModel.from_dir(tmp_path / "d")


def test_other_architectures_through_torch_export_match(tmp_path: Path) -> None:
    torch_model = make_tiny_model(tmp_path / "d", "distilbert")
    model = TransformerModel.from_dir(tmp_path / "d")
    batch = model.tokenize(TEXTS)
    assert np.abs(model.hidden_states(batch) - reference_hidden(torch_model, batch)).max() < 1e-4


def test_bfloat16_checkpoints_are_read_exactly(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch_model = make_tiny_model(tmp_path / "m", "bert")
    with torch.no_grad():  # round the weights to bf16 and back, so float32 reference == bf16 file
        for param in torch_model.parameters():
            param.copy_(param.to(torch.bfloat16).to(torch.float32))
    torch_model.to(torch.bfloat16).save_pretrained(str(tmp_path / "m"))
    torch_model.to(torch.float32)
    model = TransformerModel.from_dir(tmp_path / "m")
    assert model.tensor("embeddings.LayerNorm.weight").dtype == np.float32
    batch = model.tokenize(TEXTS)
    assert np.abs(model.hidden_states(batch) - reference_hidden(torch_model, batch)).max() < 1e-4
