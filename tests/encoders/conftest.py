"""Encoder tests share one temp EMBEDSTACK_HOME so converted graphs never touch the
user's cache. Tiny random models come from `tiny_models.py` (import it directly)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converted graphs go to a per-session temp home, never the user's cache."""
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path_factory.getbasetemp() / "embedstack-home"))
