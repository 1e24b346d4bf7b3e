from __future__ import annotations

from pathlib import Path

import pytest
import typer

DATA = Path(__file__).resolve().parents[1] / "data" / "eval"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches go to a fresh EMBEDSTACK_HOME per test."""
    home = tmp_path / "home"
    monkeypatch.setenv("EMBEDSTACK_HOME", str(home))
    return home


@pytest.fixture
def cli() -> typer.Typer:
    """The real `embedstack` app: errors become one line on stderr and exit code 1."""
    from embedstack.cli.main import app

    return app
