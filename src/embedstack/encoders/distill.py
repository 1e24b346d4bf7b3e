"""Build a static (model2vec) model from a local transformer, with the model2vec library.

model2vec embeds every vocabulary token with the transformer once, reduces the
dimension with PCA and bakes SIF weights in; the result is a folder our `StaticEncoder`
loads (`load_encoder("./my-static-model")`). Needs the `[static]` and `[torch]` extras.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from embedstack._optional import require
from embedstack.catalog import catalog_entry
from embedstack.errors import InputError, ModelNotFoundError

log = logging.getLogger(__name__)


def resolve_model_dir(model: str) -> Path:
    """A catalog name of a transformer (e.g. `minilm`) or a local Hugging Face folder."""
    entry = catalog_entry(model)
    if entry is not None:
        if entry.kind != "transformer":
            raise InputError(f"{model!r} is already a static model; distill a transformer")
        spec = importlib.util.find_spec(entry.source_package)
        if spec is None or spec.origin is None:
            raise ModelNotFoundError(
                f"{model!r} is not installed. Install it with: {entry.install}"
            )
        return Path(spec.origin).parent / entry.package_subdir
    path = Path(model).expanduser()
    if not (path / "config.json").exists():
        raise ModelNotFoundError(
            f"{model!r} is neither a known model name nor a local Hugging Face model folder "
            "(with config.json, tokenizer.json and weights); nothing is downloaded"
        )
    return path


def distill(model: str, out: str | Path, pca_dims: int | None = 256) -> Path:
    """Distill `model` into a static model folder at `out` and return its path."""
    require("torch", "torch", "distilling a transformer")
    distill_module = require("model2vec.distill", "static", "distilling a static model")
    source = resolve_model_dir(model)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; choose a new --out folder")
    log.info("distilling %s into %s (pca_dims=%s)", source, out, pca_dims)
    static_model = distill_module.distill(model_name=str(source), pca_dims=pca_dims)
    static_model.save_pretrained(str(out))
    return out
