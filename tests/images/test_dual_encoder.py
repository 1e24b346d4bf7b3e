"""CLIP/SigLIP towers on ONNX Runtime vs the transformers reference forward pass, and
image preprocessing vs the model's own (Pillow) image processor on real photos."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from embedstack.encoders.clip import load_dual_encoder
from embedstack.encoders.images import Preprocessing
from embedstack.errors import InputError, ModelNotFoundError
from embedstack.registry import load_encoder

TEXTS = ["a red cat sat on the mat", "dog", "the big blue house by the river , fast !", ""]
FAMILIES = ("clip", "siglip")


def _processor(family: str, **kwargs):
    import transformers as tf

    name = "CLIPImageProcessor" if family == "clip" else "SiglipImageProcessor"
    cls = getattr(tf, name + "Pil", None) or getattr(tf, name)  # Pillow backend (v5 name)
    return cls(**kwargs)


def _reference(model, dual, texts, pixels):
    ids, mask, _ = dual.text.tokenize(texts)
    kwargs = {"attention_mask": torch.tensor(mask)} if dual.text.use_mask else {}
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), pixel_values=torch.tensor(pixels), **kwargs)
    return out


@pytest.mark.torch
@pytest.mark.parametrize("family", FAMILIES)
def test_towers_and_logits_match_transformers(family, dual_models, sample_images):
    folder, model = dual_models[family]
    dual = load_dual_encoder(folder)
    images = sorted(sample_images.rglob("*.*"))
    images = [p for p in images if p.suffix != ".txt"]
    pixels = np.stack(
        [dual.image.preprocess(__import__("PIL.Image").Image.open(p)) for p in images]
    )
    ref = _reference(model, dual, TEXTS, pixels)
    text = dual.text.encode(TEXTS)
    image = dual.image.encode_images(images)
    np.testing.assert_allclose(text, ref.text_embeds.numpy(), atol=1e-4)
    np.testing.assert_allclose(image, ref.image_embeds.numpy(), atol=1e-4)
    np.testing.assert_allclose(dual.logits(image, text), ref.logits_per_image.numpy(), atol=1e-4)
    probs = dual.probabilities(image, text)
    logits = ref.logits_per_image.double()
    expected = torch.sigmoid(logits) if family == "siglip" else logits.softmax(dim=1)
    np.testing.assert_allclose(probs, expected.numpy(), atol=1e-5)
    assert dual.text.space == dual.image.space and dual.space.dim == text.shape[1]


@pytest.mark.torch
def test_legacy_clip_config_pools_at_the_highest_token_id(tmp_path, sample_images):
    """Configs saved by old transformers say eos_token_id 2: the reference then pools at
    argmax(input_ids) (the end-of-text token has the highest id in CLIP's vocabulary)."""
    import json

    from tiny_dual import make_tiny_dual

    model = make_tiny_dual(tmp_path / "legacy", "clip", seed=3)
    config = json.loads((tmp_path / "legacy" / "config.json").read_text())
    config["text_config"]["eos_token_id"] = 2
    (tmp_path / "legacy" / "config.json").write_text(json.dumps(config))
    model.text_model.eos_token_id = 2
    dual = load_dual_encoder(tmp_path / "legacy")
    pixels = np.zeros((1, 3, 32, 32), dtype=np.float32)
    ref = _reference(model, dual, TEXTS, pixels)
    np.testing.assert_allclose(dual.text.encode(TEXTS), ref.text_embeds.numpy(), atol=1e-4)


@pytest.mark.torch
@pytest.mark.parametrize("family", FAMILIES)
def test_registry_loads_the_text_tower(family, dual_models):
    folder, _ = dual_models[family]
    encoder = load_encoder(str(folder))
    np.testing.assert_allclose(
        encoder.encode(["a cat"]), load_dual_encoder(folder).text.encode(["a cat"]), atol=1e-6
    )
    assert dict(encoder.space.extra)["towers"] == "text+image"


@pytest.mark.torch
@pytest.mark.parametrize(
    ("family", "settings"),
    [
        ("clip", {}),  # openai/clip defaults: shortest edge 224, bicubic, centre crop 224
        ("siglip", {}),  # google/siglip defaults: 224x224 bicubic, mean/std 0.5
        ("clip", {"size": {"shortest_edge": 100}, "crop_size": {"height": 120, "width": 90},
                  "resample": 2}),  # crop larger than the image: padded
        ("siglip", {"size": {"height": 384, "width": 384}, "resample": 3}),
        ("clip", {"size": 200, "crop_size": 180}),  # old configs: plain ints
    ],
)  # fmt: skip
def test_preprocessing_matches_the_image_processor(family, settings, sample_images, tmp_path):
    from PIL import Image

    processor = _processor(family, **settings)
    processor.save_pretrained(str(tmp_path))
    ours = Preprocessing.from_dir(tmp_path)
    for path in sorted(p for p in sample_images.rglob("*.*") if p.suffix != ".txt"):
        image = Image.open(path)
        expected = processor(images=image, return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(ours(image), expected, atol=1e-5, err_msg=str(path))


def test_a_folder_that_is_not_a_dual_encoder_is_refused(tmp_path):
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text('{"model_type": "bert", "architectures": ["BertModel"]}')
    with pytest.raises(InputError, match=r"not a CLIP/SigLIP dual encoder.*'bert'.*BertModel"):
        load_dual_encoder(bert)
    vision = tmp_path / "vision"
    vision.mkdir()
    (vision / "config.json").write_text('{"model_type": "clip", "vision_config": {}}')
    with pytest.raises(InputError, match="text_config missing"):
        load_dual_encoder(vision)
    (tmp_path / "naflex").mkdir()
    (tmp_path / "naflex" / "config.json").write_text('{"model_type": "siglip2"}')
    with pytest.raises(InputError, match="NaFlex"):
        load_dual_encoder(tmp_path / "naflex")


@pytest.mark.torch
def test_missing_tokenizer_is_named(dual_models, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(dual_models["siglip"][0], folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no tokenizer\.json.*save_pretrained"):
        load_dual_encoder(folder)


@pytest.mark.torch
def test_long_text_is_truncated_with_a_warning(dual_models, caplog):
    dual = load_dual_encoder(dual_models["clip"][0])
    long = " ".join(["cat"] * 40)  # the tiny tower's context is 16 tokens (CLIP's is 77)
    with caplog.at_level(logging.WARNING):
        vector = dual.text.encode([long, "cat"])
    assert "1 text(s) were longer than CLIP's 16-token text context" in caplog.text
    assert np.isfinite(vector).all()
    assert dual.text.count_tokens([long]) == [42]


def test_sample_preprocessing_handles_greyscale_and_alpha(tmp_path):
    from PIL import Image

    prep = Preprocessing.from_config({"size": {"height": 8, "width": 8}})
    for mode in ("L", "RGBA", "P", "I;16"):
        assert prep(Image.new(mode, (20, 10))).shape == (3, 8, 8)
    assert Path(tmp_path).exists()


def test_minimal_hub_configs_get_the_reference_defaults(tmp_path):
    """google/siglip-* config.json names only the model types; the rest are defaults."""
    import json

    from embedstack.encoders.clip_config import read_dual_config

    config = {"architectures": ["SiglipModel"], "model_type": "siglip",
              "text_config": {"model_type": "siglip_text_model"},
              "vision_config": {"image_size": 512, "model_type": "siglip_vision_model"}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "preprocessor_config.json"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(ModelNotFoundError, match=r"no model\.safetensors.*save_pretrained"):
        read_dual_config(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    cfg = read_dual_config(tmp_path)
    assert cfg.text["max_position_embeddings"] == 64 and cfg.text["hidden_size"] == 768
    assert cfg.vision["image_size"] == 512 and cfg.vision["patch_size"] == 16
    assert cfg.vision["hidden_act"] == "gelu_pytorch_tanh"
