import json

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store import indexes


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.delenv("EMBEDSTACK_DEBUG", raising=False)


@pytest.fixture
def notes(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "keys.md").write_text("Rotate the API keys every ninety days and revoke old keys.")
    (root / "tea.txt").write_text("Green tea steeps for three minutes in hot water.")
    (root / "bad.txt").write_bytes(b"ok \xff\xfe broken")
    rows = [
        {"id": "f1", "text": "Backups run every night at two", "team": "ops", "year": 2021},
        {"id": "f2", "text": "The office kitchen has a kettle for tea", "team": "hr", "year": 2019},
    ]
    (root / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, text):
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr


def test_index_then_reindex_embeds_nothing(notes, tmp_path):
    into = tmp_path / "c.es"
    first = run("index", notes, "--into", into, "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["documents"] == 4 and summary["files"] == 3
    assert summary["added"] == 4 and summary["embedded"] == 4 and summary["total"] == 4
    assert summary["skipped"][0]["where"].endswith("bad.txt")
    assert "byte offset 3" in summary["skipped"][0]["reason"]
    assert "bad.txt" in first.stderr  # reported to the user, and the run went on

    again = run("index", notes, "--into", into)
    assert again.exit_code == 0
    assert "nothing to embed: all 4 documents are unchanged" in again.stdout

    (notes / "tea.txt").write_text("Black tea needs boiling water and four minutes.")
    changed = json.loads(run("index", notes, "--into", into, "--json").stdout)
    assert (changed["updated"], changed["unchanged"], changed["embedded"]) == (1, 3, 1)
    human = run("index", notes, "--into", into)
    assert "nothing to embed" in human.stdout


def test_bm25_default_and_no_bm25(notes, tmp_path):
    assert run("index", notes, "--into", tmp_path / "a", "--no-bm25").exit_code == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["indexes"] == {}
    assert run("index", notes, "--into", tmp_path / "b").exit_code == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert list(manifest["indexes"]) == (["bm25"] if indexes.available("bm25") else [])


def test_search_json_shape_order_and_filters(notes, tmp_path):
    into = tmp_path / "c.es"
    run("index", notes, "--into", into)
    result = run("search", "rotate the API keys", "--in", into, "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    assert all(set(h) == {"id", "score", "text", "metadata"} for h in hits)
    assert hits[0]["id"].endswith("keys.md") and hits[0]["metadata"]["path"] == hits[0]["id"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    where = json.dumps({"year": {"$gte": 2020}})
    filtered = json.loads(run("search", "tea", "--in", into, "--where", where, "--json").stdout)
    assert [h["id"] for h in filtered] == ["f1"]
    assert (
        json.loads(run("search", "x", "--in", into, "--where", '{"team": "no"}', "--json").stdout)
        == []
    )

    table = run("search", "kettle for tea", "--in", into, "-k", "2")
    assert table.exit_code == 0 and "  1.  " in table.stdout and "  f2  The office" in table.stdout


def test_errors_are_one_line(notes, tmp_path):
    one_line_error(run("search", "x", "--in", tmp_path / "missing"), "no collection at")
    into = tmp_path / "c.es"
    run("index", notes, "--into", into, "--no-bm25")
    one_line_error(run("search", "x", "--in", into, "--where", "{bad"), "--where must be JSON")
    one_line_error(run("search", "x", "--in", into, "--where", '{"a": {"$re": 1}}'), "$re")
    one_line_error(run("search", "x", "--in", into, "--retriever", "bm25"), "no 'bm25' index")
    one_line_error(run("index", notes, "--into", into, "--model", "hash:32"), "dim: 64 != 32")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run("index", empty, "--into", tmp_path / "e"), "no documents to index")
    one_line_error(run("index", tmp_path / "nope", "--into", tmp_path / "e"), "no such file")
    (into / "manifest.json").write_text("{ not json")
    one_line_error(run("search", "x", "--in", into), "manifest.json is corrupt")
    one_line_error(run("index", notes, "--into", into), "manifest.json is corrupt")


def test_version_and_short_help():
    from typer.testing import CliRunner

    from embedstack import __version__
    from embedstack.cli.main import app

    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.strip() == f"embedstack {__version__}"
    short = CliRunner().invoke(app, ["search", "-h"])
    assert short.exit_code == 0 and "--in" in short.stdout


def test_index_text_with_an_hnsw_index(notes, tmp_path):
    from embedstack.store.collection import Collection

    into = tmp_path / "kb.es"
    assert run("index", notes, "--into", into, "--ann", "hnsw", "--json").exit_code == 0
    col = Collection.open(into)
    assert col.manifest.indexes["hnsw"]["storage"] == "float16"  # the hnsw default
    col.close()
    binary = tmp_path / "bin.es"
    assert (
        run("index", notes, "--into", binary, "--ann", "hnsw", "--storage", "binary").exit_code == 0
    )
    col = Collection.open(binary)
    assert (col.manifest.indexes["hnsw"]["storage"], col.manifest.indexes["hnsw"]["rescore"]) == (
        "binary",
        "float32",
    )
    col.close()
    hits = json.loads(run("search", "tea", "--in", into, "--json").stdout)
    assert hits
    one_line_error(run("index", notes, "--into", into, "--ann", "hnsw"), "new collection")
