import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app

DEMO = resources.files("embedstack") / "data" / "demo" / "corpus.jsonl"
CAPTIONS = Path(__file__).parent.parent / "data" / "dedup_captions.jsonl"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:256")
    monkeypatch.delenv("EMBEDSTACK_DEBUG", raising=False)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def demo(tmp_path):
    folder = tmp_path / "demo.es"
    result = run("index", str(DEMO), "--into", folder, "--no-bm25")
    assert result.exit_code == 0, result.output
    return folder


def test_drift_json_shape_and_report(demo, tmp_path):
    first = run("drift", demo, "--json")
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert set(body) == {"drift", "reasons", "metrics"}
    assert body["drift"] is False and body["metrics"]["rows"] == 40
    assert "no drift profile yet" in first.stderr

    same = json.loads(run("drift", demo, "--against", str(DEMO), "--json").stdout)
    assert same["drift"] is False and same["reasons"] == []

    out = tmp_path / "report"
    moved = run("drift", demo, "--against", CAPTIONS, "--json", "--out", out)
    assert moved.exit_code == 0, moved.output
    body = json.loads(moved.stdout)
    assert body["drift"] is True and body["reasons"]
    assert {"centroid_cosine_shift", "mmd_p", "outlier_rate", "ks_min_q"} <= set(body["metrics"])
    assert (out / "drift.png").read_bytes()[:4] == b"\x89PNG"
    assert "DRIFT" in (out / "report.html").read_text()
    history = json.loads((demo / "drift" / "snapshots.json").read_text())
    assert [s["drift"] for s in history] == [False, True]


def test_drift_text_output_and_errors(demo, tmp_path):
    result = run("drift", demo, "--against", CAPTIONS)
    assert result.exit_code == 0, result.output
    assert "DRIFT" in result.stdout and "MMD" in result.stdout

    missing = run("drift", demo, "--against", tmp_path / "nope.jsonl")
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    assert "Traceback" not in missing.output
    not_a_collection = run("drift", tmp_path / "nothing")
    assert not_a_collection.exit_code == 1 and "error:" in not_a_collection.stderr


def test_drift_against_collection_of_another_space(demo, tmp_path):
    other = tmp_path / "other.es"
    made = run("index", str(DEMO), "--into", other, "--no-bm25", "--model", "hash:64")
    assert made.exit_code == 0, made.output
    body = json.loads(run("drift", demo, "--against", other, "--json").stdout)
    assert "overlap@10" in body["metrics"] and "space_diff" in body["metrics"]


def test_rows_indexed_after_the_profile_are_tested(demo):
    assert run("drift", demo).exit_code == 0
    added = run("index", CAPTIONS, "--into", demo)
    assert added.exit_code == 0, added.output
    body = json.loads(run("drift", demo, "--json").stdout)
    assert body["drift"] is True and body["metrics"]["rows"] == 209
    rebuilt = run("drift", demo, "--rebuild-profile", "--json")
    assert "rebuilt the drift profile from 249 rows" in rebuilt.stderr
    assert json.loads(rebuilt.stdout)["metrics"]["rows"] == 249
    bad = run("drift", demo, "--alpha", "2")
    assert bad.exit_code == 1 and "alpha must be between 0 and 1" in bad.stderr


def test_text_output_of_a_two_space_comparison(demo, tmp_path):
    other = tmp_path / "other.es"
    assert (
        run("index", str(DEMO), "--into", other, "--no-bm25", "--model", "hash:64").exit_code == 0
    )
    result = run("drift", demo, "--against", other)
    assert result.exit_code == 0, result.output
    # Shown verbatim: the brackets of the list are not taken for rich markup.
    assert "overlap@10" in result.stdout and 'space_diff: ["model:' in result.stdout
