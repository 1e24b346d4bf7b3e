"""Shared helpers for the apps tests: the real model (skipped cleanly when absent) and
the labelled fixtures in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def minilm():
    """The packaged all-MiniLM-L6-v2 through the registry, or a skip with the reason."""
    from embedstack.errors import EmbedstackError
    from embedstack.registry import load_encoder

    try:
        return load_encoder("minilm")
    except (ImportError, EmbedstackError) as exc:
        pytest.skip(f"the packaged MiniLM is not usable here: {exc}")


def captions() -> list[dict[str, str]]:
    with (DATA / "dedup_captions.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]
