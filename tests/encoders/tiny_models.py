"""Tiny randomly initialised Hugging Face models, built in tmp_path (never downloaded).

`make_tiny_model(path, arch)` writes config.json + model.safetensors (via transformers'
`save_pretrained`) + a WordPiece `tokenizer.json` over a small vocabulary, and returns
the torch model for reference forward passes. Other encoder tests (SPLADE, ColBERT,
cross-encoders) can reuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "mat",
    "fast",
    "slow",
    "big",
    "small",
    "red",
    "blue",
    "house",
    "tree",
    "river",
    "search",
    "vector",
    "query",
    "document",
    "model",
    "token",
    ",",
    ".",
    "!",
    "?",
    "hello",
    "world",
]
SPECIALS = {
    "bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    "roberta": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
}


def write_tokenizer(path: Path, family: str, fixed_length: int | None = None) -> list[str]:
    """A WordPiece tokenizer.json; `fixed_length` bakes in padding+truncation like the
    packaged MiniLM tokenizer does, so tests can check it is overridden."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    specials = SPECIALS[family]
    vocab = specials + WORDS + ["##s", "##ing", "##ed"]
    cls, sep, unk = (
        (specials[2], specials[3], specials[1]) if family == "bert" else ("<s>", "</s>", "<unk>")
    )
    tok = Tokenizer(WordPiece({w: i for i, w in enumerate(vocab)}, unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    pair = (
        f"{cls} $A {sep} $B:1 {sep}:1" if family == "bert" else f"{cls} $A {sep} {sep} $B:1 {sep}:1"
    )
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=pair,
        special_tokens=[(cls, vocab.index(cls)), (sep, vocab.index(sep))],
    )
    pad = specials[0] if family == "bert" else "<pad>"
    if fixed_length:
        tok.enable_truncation(fixed_length)
        tok.enable_padding(pad_id=vocab.index(pad), pad_token=pad, length=fixed_length)
    tok.save(str(path / "tokenizer.json"))
    return vocab


def make_tiny_model(
    path: Path,
    arch: str = "bert",
    *,
    max_positions: int = 40,
    seed: int = 0,
    fixed_length: int | None = None,
) -> Any:
    """arch: bert | bert-mlm (weights prefixed `bert.` + an MLM head) | roberta | mpnet |
    distilbert (not built in: goes through the torch export)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path.mkdir(parents=True, exist_ok=True)
    family = "roberta" if arch in ("roberta", "mpnet") else "bert"
    vocab = write_tokenizer(path, family, fixed_length)
    common = dict(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    torch.manual_seed(seed)
    if arch == "roberta":
        config = transformers.RobertaConfig(
            pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common
        )
        model = transformers.RobertaModel(config, add_pooling_layer=False)
    elif arch == "mpnet":
        config = transformers.MPNetConfig(pad_token_id=1, **common)
        model = transformers.MPNetModel(config, add_pooling_layer=False)
    elif arch == "distilbert":
        config = transformers.DistilBertConfig(
            vocab_size=len(vocab),
            dim=32,
            n_layers=2,
            n_heads=4,
            hidden_dim=64,
            max_position_embeddings=max_positions,
        )
        model = transformers.DistilBertModel(config)
    elif arch == "bert-mlm":
        model = transformers.BertForMaskedLM(transformers.BertConfig(**common))
    else:
        model = transformers.BertModel(transformers.BertConfig(**common), add_pooling_layer=False)
    with torch.no_grad():  # larger random weights than the 0.02 init, so differences show
        for name, param in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                param.normal_(0.0, 0.3).add_(1.0 if name.endswith("LayerNorm.weight") else 0.0)
            else:
                param.normal_(0.0, 0.2)
    model.eval()
    model.save_pretrained(str(path))
    return model


def reference_hidden(model: Any, batch: Any) -> Any:
    """The transformers forward pass on our token batch, as numpy."""
    import torch

    base = getattr(model, "bert", model)
    feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
    if getattr(base.config, "type_vocab_size", 0) and base.config.model_type != "mpnet":
        feeds["token_type_ids"] = batch.token_type_ids
    with torch.no_grad():
        out = base(**{k: torch.tensor(v) for k, v in feeds.items()})
    return out.last_hidden_state.numpy()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def make_numpy_bert(
    path: Path, *, hidden: int = 32, layers: int = 2, max_positions: int = 40, seed: int = 0
) -> Path:
    """A random BERT written with numpy + safetensors only (no torch): for tests that
    need a working model folder but no reference forward pass."""
    import numpy as np
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    vocab = write_tokenizer(path, "bert")
    rng = np.random.default_rng(seed)
    inner = hidden * 2

    def rand(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.2, shape).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": rand(len(vocab), hidden),
        "embeddings.position_embeddings.weight": rand(max_positions, hidden),
        "embeddings.token_type_embeddings.weight": rand(2, hidden),
        "embeddings.LayerNorm.weight": 1 + rand(hidden),
        "embeddings.LayerNorm.bias": rand(hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            tensors[p + part + ".weight"], tensors[p + part + ".bias"] = (
                rand(hidden, hidden),
                rand(hidden),
            )
        tensors[p + "intermediate.dense.weight"], tensors[p + "intermediate.dense.bias"] = (
            rand(inner, hidden),
            rand(inner),
        )
        tensors[p + "output.dense.weight"], tensors[p + "output.dense.bias"] = (
            rand(hidden, inner),
            rand(hidden),
        )
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + ln + ".weight"], tensors[p + ln + ".bias"] = 1 + rand(hidden), rand(hidden)
    save_file(tensors, str(path / "model.safetensors"))
    config = {
        "model_type": "bert",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "intermediate_size": inner,
        "max_position_embeddings": max_positions,
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    }
    write_json(path / "config.json", config)
    return path


COLBERT_DIM = 16
COLBERT_QUERY_LEN = 12


def make_tiny_colbert(path: Path):
    """Stanford layout: encoder under `bert.`, `linear.weight`, artifact.metadata."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from safetensors.torch import save_file
    from tokenizers import Tokenizer

    path.mkdir(parents=True)
    write_tokenizer(path, "bert")
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.add_special_tokens(["[unused0]", "[unused1]"])
    tok.save(str(path / "tokenizer.json"))
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=40,
    )  # fmt: skip
    torch.manual_seed(2)
    bert = transformers.BertModel(config, add_pooling_layer=False)
    linear = torch.nn.Linear(32, COLBERT_DIM, bias=False)
    with torch.no_grad():
        for name, param in bert.named_parameters():
            param.normal_(0.0, 0.2).add_(1.0 if name.endswith("LayerNorm.weight") else 0.0)
    bert.eval()
    tensors = {f"bert.{k}": v.contiguous() for k, v in bert.state_dict().items()}
    tensors["linear.weight"] = linear.weight.detach().contiguous()
    save_file(tensors, str(path / "model.safetensors"))
    data = config.to_dict() | {"architectures": ["HF_ColBERT"]}
    (path / "config.json").write_text(json.dumps(data))
    (path / "artifact.metadata").write_text(
        json.dumps({"dim": COLBERT_DIM, "query_maxlen": COLBERT_QUERY_LEN, "doc_maxlen": 20})
    )
    return bert, linear, tok
