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
    """The eval command group on its own app, so these tests do not depend on the other
    command modules being present on this branch."""
    from embedstack.cli import eval as eval_cli

    app = typer.Typer()
    eval_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Group callback: keeps sub-command names on the command line."""

    return app
