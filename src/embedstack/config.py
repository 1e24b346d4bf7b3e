"""Where embedstack keeps its files, and the environment variables it reads."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "EMBEDSTACK_HOME"
ENV_MODEL = "EMBEDSTACK_MODEL"
DEFAULT_MODEL = "minilm"


def home() -> Path:
    """Root for caches (converted ONNX graphs, embedding caches); `EMBEDSTACK_HOME` wins."""
    env = os.environ.get(ENV_HOME)
    path = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("embedstack"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(name: str) -> Path:
    """A named sub-folder of `home()`, created on demand."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_model_spec() -> str:
    """The model used when none is given: `EMBEDSTACK_MODEL`, else the packaged MiniLM."""
    return os.environ.get(ENV_MODEL) or DEFAULT_MODEL
