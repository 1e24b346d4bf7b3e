"""`embedstack embed-corpus`: the summary it prints, exit codes, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import embedstack.distributed.worker as worker_module
from embedstack.cli.main import app

runner = CliRunner()


def test_json_summary_then_a_rerun_that_skips_everything(corpus, tmp_path):
    args = ["embed-corpus", str(corpus), "--into", str(tmp_path / "out"), "--model", "hash:16"]
    first = runner.invoke(app, [*args, "--json", "--unit-rows", "100"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert {"rows", "embedded", "skipped", "failed", "seconds"} <= set(summary)
    assert (summary["rows"], summary["embedded"], summary["skipped"]) == (240, 240, 0)
    again = runner.invoke(app, [*args, "--unit-rows", "100"])
    assert again.exit_code == 0
    assert "0 embedded, 240 skipped" in again.stderr


def test_failed_units_are_shown_and_exit_1(corpus, tmp_path, monkeypatch):
    def broken(unit, fields=None):
        raise OSError("cannot read")

    monkeypatch.setattr(worker_module, "read_unit", broken)
    result = runner.invoke(
        app, ["embed-corpus", str(corpus), "--into", str(tmp_path / "o"), "--model", "hash:16"]
    )
    assert result.exit_code == 1
    assert "failed" in result.stderr and "cannot read" in result.stderr
    assert "re-run the same command" in result.stderr


def test_bad_options_are_one_line_errors(corpus, tmp_path):
    for extra, message in (
        (["--workers", "0"], "--workers must be at least 1"),
        (["--format", "csv"], "--format must be one of"),
        (["--max-cost", "1"], "apply to hosted models"),
    ):
        out = tmp_path / "x"
        result = runner.invoke(
            app, ["embed-corpus", str(corpus), "--into", str(out), "--model", "hash:16", *extra]
        )
        assert result.exit_code == 1
        assert message in result.stderr and "Traceback" not in result.output
