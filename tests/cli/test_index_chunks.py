"""`index --chunk-tokens/--chunk-overlap/--truncate`, feedback on index flags for an
existing collection, one loader for dedup/chunk, and user text that is never markup."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store import indexes


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.delenv("EMBEDSTACK_QUIET", raising=False)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


LONG = " ".join(f"Sentence {i} says the kettle boils water for tea number {i}." for i in range(12))


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    from tiny_models import make_numpy_bert

    return make_numpy_bert(tmp_path_factory.mktemp("m") / "bert")  # 38 content tokens


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    rows = [
        {"id": "long", "text": LONG, "team": "ops"},
        {"id": "short", "text": "Green tea steeps for three minutes.", "team": "hr"},
    ]
    (root / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (root / "guide.md").write_text("# Keys\n\n" + LONG.replace("tea", "keys") + "\n")
    return root


def test_truncate_warn_gives_one_summary_with_the_fixing_flag(docs, tmp_path, bert):
    result = run("index", docs, "--into", tmp_path / "c.es", "--model", bert)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "longer than" in line]
    assert len(warnings) == 1, result.stderr
    assert "2 of the 3 new or changed documents are longer than" in warnings[0]
    assert "--chunk-tokens" in warnings[0] and "truncate=" not in result.stderr
    data = json.loads(
        run("index", docs, "--into", tmp_path / "d.es", "--model", bert, "--json").stdout
    )
    assert data["warning"].startswith("2 of the 3 new or changed documents are longer than")


def test_truncate_error_refuses_before_writing(docs, tmp_path, bert):
    into = tmp_path / "c.es"
    result = run("index", docs, "--into", into, "--model", bert, "--truncate", "error")
    assert result.exit_code == 1
    assert "2 of the 3 new or changed documents are longer than" in result.stderr
    assert "--chunk-tokens" in result.stderr and "guide.md, long)" in result.stderr
    assert not into.exists()  # nothing half-made
    bad = run("index", docs, "--into", into, "--truncate", "maybe")
    assert bad.exit_code == 1 and "--truncate must be warn or error" in bad.stderr


def test_chunked_index_is_retrievable_with_one_parent_per_row(docs, tmp_path, bert):
    into = tmp_path / "c.es"
    args = ["index", docs, "--into", into, "--model", bert, "--truncate", "error"]
    result = run(*args, "--chunk-tokens", "20", "--chunk-overlap", "4", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["documents"] == 3 and summary["chunks"] > 3
    assert "warning" not in summary  # every chunk fits the model
    hits = json.loads(run("retrieve", "kettle tea", "--in", into, "-k", "20", "--json").stdout)
    ids = {h["id"] for h in hits}
    assert {"short#0", "long#0", "long#1"} <= ids
    long_hits = [h for h in hits if h["source"] == "long"]
    for hit in long_hits:  # offsets index the row's own text
        assert LONG[hit["start"] : hit["end"]] == hit["text"]
    with_parent = json.loads(
        run("retrieve", "kettle", "--in", into, "-k", "3", "--parent", "--json").stdout
    )
    for hit in with_parent:
        assert hit["text"] in hit["parent"]["text"]
    shown = json.loads(
        run("search", "tea", "--in", into, "--where", '{"team": "hr"}', "--json").stdout
    )
    assert [h["id"] for h in shown] == ["short#0"]  # the row's metadata is kept per chunk

    again = run(*args, "--chunk-tokens", "20", "--chunk-overlap", "4")
    assert "nothing to embed" in again.stdout and "chunks of 3 documents" in again.stdout
    bigger = run(*args, "--chunk-tokens", "38", "--json")
    data = json.loads(bigger.stdout)
    assert data["total"] == data["chunks"]  # stale chunks of the old size are gone
    assert any(n.startswith("deleted ") for n in data["notes"])


def test_chunk_options_are_checked(docs, tmp_path, bert):
    over = run("index", docs, "--into", tmp_path / "c.es", "--model", bert, "--chunk-tokens", "64")
    assert over.exit_code == 1 and "38" in over.stderr
    assert not (tmp_path / "c.es").exists()
    lone = run("index", docs, "--into", tmp_path / "c.es", "--chunk-overlap", "4")
    assert lone.exit_code == 1 and "--chunk-overlap needs --chunk-tokens" in lone.stderr


def test_flags_on_an_existing_collection_say_what_happened(docs, tmp_path):
    into = tmp_path / "c.es"
    assert run("index", docs, "--into", into).exit_code == 0
    if indexes.available("bm25"):
        ignored = run("index", docs, "--into", into, "--no-bm25")
        assert "--no-bm25 ignored" in ignored.stdout
        rebuilt = run("index", docs, "--into", into, "--rebuild-indexes")
        assert "rebuilt indexes: bm25" in rebuilt.stdout
    bare = tmp_path / "bare.es"
    assert run("index", docs, "--into", bare, "--no-bm25").exit_code == 0
    none = run("index", docs, "--into", bare, "--rebuild-indexes")
    assert "no indexes to rebuild" in none.stdout
    assert "--no-bm25 ignored" not in run("index", docs, "--into", bare, "--no-bm25").stdout


def test_dedup_and_chunk_read_jsonl_rows(tmp_path):
    data = tmp_path / "rows.jsonl"
    same = "The kettle boils water for tea."
    data.write_text(
        json.dumps({"text": same})
        + "\n"
        + json.dumps({"text": same})
        + "\n"
        + json.dumps({"text": "Completely different words about keys."})
        + "\n"
    )
    result = run("dedup", data, "--stages", "exact", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    clusters = report["clusters"]
    assert len(clusters) == 1
    members = [clusters[0]["keep"], *clusters[0]["duplicates"]]
    assert len(members) == 2 and all(m.startswith(data.as_posix()) for m in members)
    human = run("dedup", data, "--stages", "exact")
    assert "3 items, 1 clusters, 1 duplicates" in human.stdout
    chunks = json.loads(run("chunk", data, "--max-tokens", "32", "--json").stdout)
    assert [c["text"] for c in chunks] == [same, same, "Completely different words about keys."]


def test_user_text_is_literal_and_bad_rows_are_summarised(tmp_path):
    folder = tmp_path / "in[bold]"
    folder.mkdir()
    data = folder / "wrong[100].jsonl"
    lines = [json.dumps({"id": f"ok{i}", "text": f"fine {i}"}) for i in range(98)]
    lines += ["not json"] * 120  # lines 99 to 218
    data.write_text("\n".join(lines) + "\n")
    result = run("index", data, "--into", tmp_path / "c.es")
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    err = err[err.index("skipped 120:") :]
    assert (
        err[1]
        == f"  {data.as_posix()}:99: invalid JSON (Expecting value: line 1 column 1 (char 0))"
    )
    assert err[2].startswith(f"  {data.as_posix()}:100: invalid JSON")  # no 💯 emoji
    assert "💯" not in result.stderr
    assert err[-1].strip() == "... and 115 more bad rows"
    assert len([line for line in err if "invalid JSON" in line]) == 5
    hits = run("search", "fine", "--in", tmp_path / "c.es")
    assert "ok1" in hits.stdout
    dup = run("dedup", data, "--stages", "exact")
    assert "... and 115 more bad rows" in dup.stderr
