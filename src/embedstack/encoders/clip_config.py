"""Recognise a CLIP/SigLIP dual-encoder folder and read its settings.

Hugging Face configs may omit fields left at their defaults, so the defaults of
`CLIPConfig` / `SiglipConfig` are filled in here; anything that is not a full dual
encoder is refused with what was found instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedstack.encoders.transformer import file_sha256
from embedstack.errors import InputError, ModelNotFoundError

FAMILIES = ("clip", "siglip")
_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {  # Hugging Face's config defaults
    "clip": {
        "text": {"hidden_size": 512, "num_hidden_layers": 12, "num_attention_heads": 8,
                 "max_position_embeddings": 77, "hidden_act": "quick_gelu",
                 "layer_norm_eps": 1e-5, "eos_token_id": 49407, "pad_token_id": 1},
        "vision": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                   "image_size": 224, "patch_size": 32, "hidden_act": "quick_gelu",
                   "layer_norm_eps": 1e-5},
    },
    "siglip": {
        "text": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "max_position_embeddings": 64, "hidden_act": "gelu_pytorch_tanh",
                 "layer_norm_eps": 1e-6, "pad_token_id": 1},
        "vision": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                   "image_size": 224, "patch_size": 16, "hidden_act": "gelu_pytorch_tanh",
                   "layer_norm_eps": 1e-6},
    },
}  # fmt: skip


@dataclass(frozen=True)
class DualConfig:
    """A text+image model folder's towers, tokenizer config and fingerprint."""

    path: Path
    family: str
    text: dict[str, Any]
    vision: dict[str, Any]
    tokenizer: dict[str, Any]
    fingerprint: str


def read_dual_config(path: str | Path) -> DualConfig:
    """Check a folder is a CLIP/SigLIP dual encoder; the error names what was found."""
    root = Path(path).expanduser().resolve()
    config_file = root / "config.json"
    if not config_file.is_file():
        raise ModelNotFoundError(f"{root} has no config.json: give a Hugging Face model folder")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    family = str(config.get("model_type", ""))
    found = f"model_type {family!r}, architectures {config.get('architectures')}"
    if family == "siglip2":
        raise InputError(
            f"{root}: SigLIP2 NaFlex checkpoints (model_type 'siglip2') are not supported; use a "
            "fixed-resolution SigLIP2 checkpoint (model_type 'siglip', e.g. "
            "google/siglip2-base-patch16-224)"
        )
    if family not in FAMILIES or "text_config" not in config or "vision_config" not in config:
        raise InputError(
            f"{root} is not a CLIP/SigLIP dual encoder: config.json has {found}, text_config "
            f"{'present' if 'text_config' in config else 'missing'}, vision_config "
            f"{'present' if 'vision_config' in config else 'missing'}; image search needs a "
            "CLIPModel or SiglipModel folder with both towers"
        )
    fixes = {
        "tokenizer.json": " (SigLIP 1 folders may ship only spiece.model: convert once with "
        "transformers' AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR))",
        "model.safetensors": " (a folder with only pytorch_model.bin, like openai/clip-*: convert "
        "once with transformers' AutoModel.from_pretrained(DIR).save_pretrained(DIR), which "
        "needs pip install 'embedstack[torch]')",
    }
    for name in ("tokenizer.json", "preprocessor_config.json", "model.safetensors"):
        if not (root / name).is_file():
            raise ModelNotFoundError(f"{root} ({found}) has no {name}{fixes.get(name, '')}")
    tok_config = root / "tokenizer_config.json"
    tokenizer = json.loads(tok_config.read_text(encoding="utf-8")) if tok_config.is_file() else {}
    defaults = _DEFAULTS[family]
    return DualConfig(
        path=root,
        family=family,
        text={
            **defaults["text"],
            **config["text_config"],
            "projection_dim": config.get("projection_dim"),
        },
        vision={**defaults["vision"], **config["vision_config"]},
        tokenizer=tokenizer,
        fingerprint=file_sha256(root / "model.safetensors"),
    )


def is_dual_encoder_dir(path: Path) -> bool:
    """Cheap check for the registry: a folder whose config.json names CLIP or SigLIP."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return config.get("model_type") in (*FAMILIES, "siglip2")
