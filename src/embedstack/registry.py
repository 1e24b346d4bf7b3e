"""Model specs -> encoders. Known models are data (`embedstack.catalog`), not `if` chains.

Spec forms:
- `minilm` (the default) or another catalog name, e.g. `glove-50d`;
- a local directory in Hugging Face layout (or a static-embedding folder);
- `provider:model` for hosted APIs, e.g. `openai:text-embedding-3-small`;
- `hash` / `hash:DIM` for the deterministic test encoder.

The registry sits just above the encoders: it imports them, they never import it.
"""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Any

from embedstack.catalog import CATALOG, HOSTED_PROVIDERS, ModelInfo, catalog_entry
from embedstack.config import default_model_spec
from embedstack.encoders.base import Encoder
from embedstack.encoders.cache import CachedEncoder, VectorCache, open_cache
from embedstack.encoders.clip_config import is_dual_encoder_dir
from embedstack.encoders.hashing import HashEncoder
from embedstack.encoders.parallel import ParallelEncoder
from embedstack.errors import InputError, ModelNotFoundError

__all__ = [
    "CATALOG",
    "HOSTED_PROVIDERS",
    "ModelInfo",
    "catalog_entry",
    "load_encoder",
    "load_parallel",
    "split_spec",
]

# Each loader is "module:function", imported only when used so `import embedstack` stays fast.
_LOADERS = {
    "transformer": "embedstack.encoders.onnx:load_local",
    "static": "embedstack.encoders.static:load_static",
    "hosted": "embedstack.encoders.hosted:load_hosted",
    "dual": "embedstack.encoders.clip:load_text_tower",  # CLIP/SigLIP: the text tower
}


def _loader(kind: str) -> Any:
    module, attr = _LOADERS[kind].split(":")
    return getattr(importlib.import_module(module), attr)


def _looks_static(path: Path) -> bool:
    if (path / "config.json").exists():
        # model2vec folders: config.json with "model_type": "model2vec", or a modules.json
        # naming StaticEmbedding. Transformer folders also hold .txt files (vocab.txt).
        try:
            if json.loads((path / "config.json").read_text()).get("model_type") == "model2vec":
                return True
            modules = path / "modules.json"
            return modules.exists() and "StaticEmbedding" in modules.read_text()
        except (OSError, ValueError):
            return False
    return any(path.glob("*.txt")) or any(path.glob("*.bin")) or any(path.glob("*.vec"))


def load_encoder(
    spec: str | None = None,
    *,
    cache: bool | str | Path | VectorCache | None = None,
    **options: Any,
) -> Encoder:
    """Build the encoder a spec names. `None` means `EMBEDSTACK_MODEL` or the default.

    Options (pooling, precision, max_length, truncate, prefixes, dimensions, device, ...)
    go to the encoder; each encoder documents which it accepts. They may also be written
    into the spec (`minilm?precision=int8`, see `split_spec`); keyword options win.
    `cache=True` (the shared cache), a path (a `.sqlite`/`.db` file, or a folder of
    `.npy` shards) or a `VectorCache` keeps every vector the encoder makes, keyed by
    embedding space and text hash, so nothing is embedded twice; hosted encoders cache
    by default (`cache=False` turns it off).
    """
    spec, spec_options = split_spec(spec or default_model_spec())
    options = {**spec_options, **options}
    provider, sep, model = spec.partition(":")
    if sep and provider in HOSTED_PROVIDERS:
        if cache is not None:
            options["cache"] = cache
        encoder: Encoder = _loader("hosted")(provider, model, **options)
        return encoder
    encoder = _load_local(spec, **options)
    if cache is None or cache is False:
        return encoder
    return CachedEncoder(encoder, open_cache(cache))


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Options written into a spec, so one string (a CLI `--model`, a collection's
    manifest) carries them: `minilm?precision=int8&device=cuda` -> ("minilm", {...}).
    Integers and true/false are converted; everything else stays a string."""
    name, sep, query = spec.partition("?")
    if not sep:
        return spec, {}
    options: dict[str, Any] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise InputError(
                f"in model spec {spec!r}, {part!r} is not key=value "
                "(write e.g. minilm?precision=int8&device=cpu)"
            )
        lowered = value.lower()
        options[key] = (
            int(value) if value.isdigit() else lowered == "true" if lowered in ("true", "false")
            else value
        )  # fmt: skip
    return name, options


def load_parallel(spec: str, workers: int, **options: Any) -> ParallelEncoder:
    """`load_encoder(spec, **options)` in `workers` processes (same embedding space)."""
    if "cache" in options:
        raise InputError("load_parallel does not take cache=...; wrap the result instead")
    return ParallelEncoder(functools.partial(load_encoder, spec, **options), workers, spec=spec)


def _load_local(spec: str, **options: Any) -> Encoder:
    if spec == "hash" or spec.startswith("hash:"):
        size = spec.split(":", 1)[1] if ":" in spec else "256"
        if not size.isdigit():
            raise InputError(f"in {spec!r}, the part after 'hash:' must be a dimension")
        return HashEncoder(dim=int(size))
    entry = catalog_entry(spec)
    if entry is not None:
        encoder: Encoder = _loader(entry.kind)(spec, **options)
        return encoder
    path = Path(spec).expanduser()
    if path.exists():
        kind = "static" if path.is_file() or _looks_static(path) else "transformer"
        if kind == "transformer" and is_dual_encoder_dir(path):
            kind = "dual"  # CLIP/SigLIP folder: its text tower
        encoder = _loader(kind)(str(path), **options)
        return encoder
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):  # a hub id: org/name
        encoder = _loader("transformer")(spec, **options)
        return encoder
    known = ", ".join([m.name for m in CATALOG] + ["hash", "hash:DIM"])
    raise ModelNotFoundError(
        f"unknown model {spec!r}: not a known name ({known}), not an existing path, and not "
        f"'provider:model' with a provider in {', '.join(HOSTED_PROVIDERS)}. "
        "Run `embedstack models` to see what is available."
    )
