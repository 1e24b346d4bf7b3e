"""Search tests reuse the tiny random models of tests/encoders and an isolated home."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converted graphs go to a per-session temp home, never the user's cache."""
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path_factory.getbasetemp() / "embedstack-home"))
