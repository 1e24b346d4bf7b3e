"""Pooling against values worked out by hand, with a padded row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.pooling import Pooling, pool, pooling_from_config
from embedstack.errors import InputError

# Two texts, three token slots, 2-d vectors; the second text has one padding token whose
# vector is deliberately huge so any leak of padding shows up.
HIDDEN = np.array(
    [
        [[1.0, 2.0], [3.0, -4.0], [5.0, 0.0]],
        [[-1.0, 6.0], [2.0, 2.0], [100.0, 100.0]],
    ],
    dtype=np.float32,
)
MASK = np.array([[1, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize(
    ("pooling", "expected"),
    [
        ("mean", [[3.0, -2.0 / 3.0], [0.5, 4.0]]),  # (1+3+5)/3, (2-4+0)/3 ; (-1+2)/2, (6+2)/2
        ("cls", [[1.0, 2.0], [-1.0, 6.0]]),
        ("max", [[5.0, 2.0], [2.0, 6.0]]),
        ("last", [[5.0, 0.0], [2.0, 2.0]]),  # row 2's last real token is slot 1
    ],
)
def test_pooling_by_hand(pooling: str, expected: list[list[float]]) -> None:
    out = pool(HIDDEN, MASK, pooling)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.array(expected, dtype=np.float32), rtol=1e-6)


def test_max_pool_of_negative_values_ignores_padding_zeros() -> None:
    hidden = np.array([[[-3.0], [-1.0], [0.0]]], dtype=np.float32)
    np.testing.assert_allclose(pool(hidden, np.array([[1, 1, 0]]), "max"), [[-1.0]])


def test_bad_pooling_and_shapes() -> None:
    with pytest.raises(InputError, match="pooling must be one of"):
        pool(HIDDEN, MASK, "median")
    with pytest.raises(InputError, match="do not line up"):
        pool(HIDDEN, MASK[:, :2], "mean")
    assert Pooling.parse("CLS") is Pooling.CLS


def test_pooling_from_sentence_transformers_config(tmp_path: Path) -> None:
    assert pooling_from_config(tmp_path) is None
    (tmp_path / "1_Pooling").mkdir()
    config = tmp_path / "1_Pooling" / "config.json"
    config.write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    assert pooling_from_config(tmp_path) is Pooling.CLS
    config.write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True})
    )
    with pytest.raises(InputError, match="2 pooling modes"):
        pooling_from_config(tmp_path)
