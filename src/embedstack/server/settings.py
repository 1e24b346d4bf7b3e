"""Server settings: safe defaults (loopback only, no CORS, bounded bodies and inputs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from embedstack.config import default_model_spec


def _env_keys() -> list[str]:
    raw = os.environ.get("EMBEDSTACK_API_KEYS", "")
    return [k.strip() for k in raw.split(",") if k.strip()]


@dataclass
class ServerSettings:
    """`models[0]` is the default model; requests may name any of `models`."""

    models: list[str] = field(default_factory=lambda: [default_model_spec()])
    collections_dir: Path | None = None
    api_keys: list[str] = field(default_factory=_env_keys)
    max_body_bytes: int = 4 * 1024 * 1024
    max_inputs: int = 2048
    cors_origins: list[str] = field(default_factory=list)
    max_batch: int = 64
    max_wait_ms: float = 5.0
    preload: bool = False
    reranker: Path | None = None
    # model folders of indexes that collections may be created with, e.g. {"splade": DIR}
    index_models: dict[str, Path] = field(default_factory=dict)
