"""`embedstack index --bm25/--no-bm25/--splade/--rebuild-indexes` and `search --retriever`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [
        {"id": "e1", "text": "error code E1234 means the disk is full"},
        {"id": "e2", "text": "the cat sat on the warm mat"},
        {"id": "e3", "text": "rotate keys every ninety days"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_help_shows_bm25_is_on_by_default():
    text = run("index", "--help").stdout
    assert "--bm25" in text and "--no-bm25" in text and "on by default" in text
    assert "--splade" in text and "--rebuild-indexes" in text
    assert "bm25" in run("search", "--help").stdout


def test_bm25_search_and_repair_from_the_cli(docs, tmp_path):
    into = tmp_path / "c.es"
    assert run("index", docs, "--into", into).exit_code == 0
    out = run("search", "E1234 disk", "--in", into, "--retriever", "bm25", "--json")
    assert out.exit_code == 0, out.output
    hits = json.loads(out.stdout)
    assert hits[0]["id"] == "e1"

    (folder,) = (into / "indexes").glob("bm25-*")
    (folder / "bm25.json").write_text("{broken")
    broken = run("search", "disk", "--in", into, "--retriever", "bm25")
    assert broken.exit_code == 1
    assert "bm25.json" in broken.stderr and "--rebuild-indexes" in broken.stderr
    assert run("index", docs, "--into", into, "--rebuild-indexes").exit_code == 0
    fixed = json.loads(run("search", "disk", "--in", into, "--retriever", "bm25", "--json").stdout)
    assert [h["id"] for h in fixed] == ["e1"]


def test_no_bm25_means_dense_only(docs, tmp_path):
    into = tmp_path / "d.es"
    assert run("index", docs, "--into", into, "--no-bm25").exit_code == 0
    assert json.loads((into / "manifest.json").read_text())["indexes"] == {}
    result = run("search", "disk", "--in", into, "--retriever", "bm25")
    assert result.exit_code == 1 and "no 'bm25' index" in result.stderr


@pytest.mark.torch
def test_splade_index_from_the_cli(docs, tmp_path):
    from tiny_models import make_tiny_model

    model = tmp_path / "mlm"
    make_tiny_model(model, "bert-mlm")
    into = tmp_path / "s.es"
    result = run("index", docs, "--into", into, "--splade", model)
    assert result.exit_code == 0, result.output
    manifest = json.loads((into / "manifest.json").read_text())
    assert set(manifest["indexes"]) == {"bm25", "splade"}
    out = run("search", "the cat", "--in", into, "--retriever", "splade", "--json", "-k", "3")
    assert out.exit_code == 0, out.output
    hits = json.loads(out.stdout)
    assert 1 <= len(hits) <= 3 and hits[0]["score"] > 0


def test_stop_word_query_warns_in_one_line(docs, tmp_path):
    into = tmp_path / "w.es"
    assert run("index", docs, "--into", into).exit_code == 0
    result = run("search", "the of and", "--in", into, "--retriever", "bm25")
    assert result.exit_code == 0
    assert "no results" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:") and "stop words" in lines[0]


@pytest.mark.torch
def test_changed_splade_weights_fail_in_one_line_until_rebuilt(docs, tmp_path):
    from tiny_models import make_tiny_model

    model = tmp_path / "mlm"
    make_tiny_model(model, "bert-mlm", seed=0)
    into = tmp_path / "s.es"
    assert run("index", docs, "--into", into, "--splade", model).exit_code == 0
    make_tiny_model(model, "bert-mlm", seed=1)  # new weights in the same folder
    refused = run("search", "the cat", "--in", into, "--retriever", "splade")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "fingerprint:" in refused.stderr and "--rebuild-indexes" in refused.stderr
    assert run("index", docs, "--into", into, "--rebuild-indexes").exit_code == 0
    out = run("search", "the cat", "--in", into, "--retriever", "splade", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["score"] > 0
