"""Token vectors -> one vector per text. Every strategy ignores padding.

Pooling is part of the embedding space: the same model pooled two ways gives vectors
that must not be compared, so the choice is recorded in `EmbeddingSpace.pooling`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from pathlib import Path

import numpy as np

from embedstack.errors import InputError


class Pooling(str, Enum):
    """How token vectors become one text vector."""

    MEAN = "mean"
    CLS = "cls"
    MAX = "max"
    LAST = "last"

    @classmethod
    def parse(cls, value: str | Pooling) -> Pooling:
        """A `Pooling` from its name, or a clear error listing the choices."""
        if isinstance(value, Pooling):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise InputError(f"pooling must be one of {choices}, got {value!r}") from None


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the real tokens (padding excluded); an all-padding row gives zeros."""
    weights = mask.astype(np.float32)[:, :, None]
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    return (hidden * weights).sum(axis=1) / counts


def cls_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The first token (the [CLS] / <s> token with right padding)."""
    return hidden[:, 0]


def max_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Element-wise max over real tokens; padding is set to -inf first so it never wins."""
    masked = np.where(mask[:, :, None].astype(bool), hidden, -np.inf)
    out = masked.max(axis=1)
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


def last_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The last non-padding token of each row (decoder-style embedding models)."""
    lengths = mask.astype(bool).sum(axis=1)
    index = np.maximum(lengths - 1, 0)
    return hidden[np.arange(hidden.shape[0]), index]


POOLERS: dict[Pooling, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    Pooling.MEAN: mean_pool,
    Pooling.CLS: cls_pool,
    Pooling.MAX: max_pool,
    Pooling.LAST: last_pool,
}


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: Pooling | str) -> np.ndarray:
    """Pool (batch, tokens, dim) hidden states with a (batch, tokens) 0/1 mask."""
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise InputError(f"hidden {hidden.shape} and mask {mask.shape} do not line up")
    return POOLERS[Pooling.parse(pooling)](hidden, mask).astype(np.float32, copy=False)


def pooling_from_config(model_dir: Path) -> Pooling | None:
    """The pooling a sentence-transformers folder declares in `1_Pooling/config.json`."""
    path = model_dir / "1_Pooling" / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text(encoding="utf-8"))
    modes = {
        "pooling_mode_cls_token": Pooling.CLS,
        "pooling_mode_mean_tokens": Pooling.MEAN,
        "pooling_mode_max_tokens": Pooling.MAX,
        "pooling_mode_lasttoken": Pooling.LAST,
    }
    chosen = [p for key, p in modes.items() if config.get(key)]
    if len(chosen) != 1:
        raise InputError(
            f"{path} enables {len(chosen)} pooling modes; embedstack needs exactly one of "
            f"{', '.join(modes)}. Pass pooling=... explicitly."
        )
    return chosen[0]
