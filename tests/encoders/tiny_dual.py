"""Tiny randomly initialised CLIP and SigLIP dual encoders saved as Hugging Face folders.

`make_tiny_dual(path, family)` writes config.json + model.safetensors (transformers'
`save_pretrained`), a word-level `tokenizer.json` with the family's special tokens,
`tokenizer_config.json` and the model's own image processor config, and returns the
torch model for reference forward passes. Never downloads anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tiny_models import WORDS

IMAGE_SIZE = 32
PATCH = 8


def _tokenizer(path: Path, family: str) -> dict[str, int]:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    if family == "clip":
        specials = ["<|startoftext|>", "<|endoftext|>", "<unk>"]
        bos, eos, pad = "<|startoftext|>", "<|endoftext|>", "<|endoftext|>"
    else:
        specials = ["<pad>", "</s>", "<unk>"]
        bos, eos, pad = None, "</s>", "</s>"
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    single = f"{bos} $A {eos}" if bos else f"$A {eos}"
    special_ids = [(t, vocab[t]) for t in (bos, eos) if t]
    tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=special_ids)
    tok.save(str(path / "tokenizer.json"))
    tok_config: dict[str, Any] = {"pad_token": pad, "eos_token": eos, "model_max_length": 16}
    tok_config["tokenizer_class"] = "CLIPTokenizer" if family == "clip" else "SiglipTokenizer"
    (path / "tokenizer_config.json").write_text(json.dumps(tok_config))
    return {"vocab": len(vocab), "eos": vocab[eos], "pad": vocab[pad], "bos": vocab[bos or eos]}


def make_tiny_dual(path: Path, family: str, seed: int = 0) -> Any:
    """A tiny CLIPModel or SiglipModel folder at `path`; returns the torch model (eval)."""
    import torch
    import transformers as tf

    path.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(path, family)
    torch.manual_seed(seed)
    common = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4}  # fmt: skip
    text = {**common, "vocab_size": tok["vocab"], "max_position_embeddings": 16,
            "eos_token_id": tok["eos"], "pad_token_id": tok["pad"],
            "bos_token_id": tok["bos"]}  # fmt: skip
    vision = {**common, "image_size": IMAGE_SIZE, "patch_size": PATCH, "num_channels": 3}
    if family == "clip":
        config = tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)
        model = tf.CLIPModel(config)
        processor = tf.CLIPImageProcessor(
            size={"shortest_edge": IMAGE_SIZE},
            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        )
    else:
        config = tf.SiglipConfig(text_config=text, vision_config=vision)
        model = tf.SiglipModel(config)
        processor = tf.SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    with torch.no_grad():  # random weights, but make the logit scale/bias non-trivial
        model.logit_scale.fill_(1.7)
        if family == "siglip":
            model.logit_bias.fill_(-3.0)
        for parameter in model.parameters():  # larger than the init, so errors would show
            if parameter.ndim >= 1 and parameter.shape[0] > 1:
                parameter.mul_(2.0)
    model.eval()
    model.save_pretrained(str(path), safe_serialization=True)
    processor.save_pretrained(str(path))
    return model
