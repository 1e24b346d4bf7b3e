from __future__ import annotations

import json
from pathlib import Path

import pytest
from apps_helpers import EXAMPLES
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.text.chunking import read_text


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:128")
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def test_faq_build_and_ask_shape(run, tmp_path):
    into = tmp_path / "library.faq"
    built = json.loads(
        run("faq", "build", EXAMPLES / "faq" / "library-faq.md", "--into", into, "--json")
    )
    assert built["pairs"] == 30 and 0 < built["threshold"] < 1
    answer = json.loads(run("faq", "ask", "Is there free Wi-Fi?", "--in", into, "--json"))
    assert set(answer) >= {"answer", "question", "score", "no_answer", "alternatives"}
    assert answer["question"] == "Is there free Wi-Fi?" and answer["no_answer"] is False
    assert answer["answer"].startswith("Yes. Connect")
    off = json.loads(run("faq", "ask", "zebra quantum saxophone", "--in", into, "--json"))
    assert off["no_answer"] is True and off["answer"] is None and off["alternatives"]


def test_dedup_shape_and_report(run, tmp_path):
    folder = EXAMPLES / "dedup"
    out = tmp_path / "report"
    data = json.loads(run("dedup", folder, "--stages", "exact,near", "--json", "--out", out))
    assert data["files"] == 8
    got = {
        (
            c["keep"].rsplit("/", 1)[-1],
            tuple(x.rsplit("/", 1)[-1] for x in c["duplicates"]),
            c["kind"],
        )
        for c in data["clusters"]
    }
    assert got == {
        ("notice-01.txt", ("notice-02.txt",), "exact"),
        ("notice-03.txt", ("notice-04.txt",), "near"),
    }
    assert all(set(c) == {"keep", "duplicates", "kind", "score"} for c in data["clusters"])
    assert {p.name for p in out.iterdir()} >= {
        "report.json",
        "report.csv",
        "report.html",
        "unique.jsonl",
    }
    assert len((out / "unique.jsonl").read_text().splitlines()) == 6
    labelled = EXAMPLES.parent / "tests" / "data" / "dedup_captions.jsonl"
    calibrated = json.loads(run("dedup", folder, "--calibrate", labelled, "--json"))
    assert {c["kind"] for c in calibrated["clusters"]} >= {"exact", "near"}


def test_chunk_shape_reproduces_source(run):
    files = sorted((EXAMPLES / "docs").glob("*.md"))
    chunks = json.loads(run("chunk", *files, "--max-tokens", "40", "--overlap", "8", "--json"))
    assert chunks and all(
        set(c) >= {"id", "source", "start", "end", "text", "headings"} for c in chunks
    )
    for c in chunks:
        source = read_text(Path(c["source"]))
        assert source[c["start"] : c["end"]] == c["text"]
        assert c["tokens"] <= 40
    assert any(c["headings"][-1:] == ["Renewals"] for c in chunks)


def test_retrieve_with_parent_and_cluster(run, tmp_path):
    into = tmp_path / "docs.es"
    run("chunk", EXAMPLES / "docs", "--max-tokens", "48", "--into", into)
    hits = json.loads(
        run("retrieve", "renewals renewed twice", "--in", into, "-k", "2", "--parent", "--json")
    )
    assert len(hits) == 2
    top = hits[0]
    assert set(top) >= {
        "id",
        "score",
        "source",
        "start",
        "end",
        "text",
        "headings",
        "citation",
        "parent",
    }
    assert top["headings"][-1] == "Renewals" and top["citation"].startswith("[1] ")
    assert top["text"] in top["parent"]["text"]
    source = read_text(Path(top["source"]))
    assert source[top["parent"]["start"] : top["parent"]["end"]] == top["parent"]["text"]
    # re-indexing the same files keeps the same chunk ids (upsert, no duplicates)
    run("chunk", EXAMPLES / "docs", "--max-tokens", "48", "--into", into)
    again = json.loads(run("retrieve", "renewals renewed twice", "--in", into, "-k", "2", "--json"))
    assert [h["id"] for h in again] == [h["id"] for h in hits]
    lexical = json.loads(
        run("retrieve", "renewed twice", "--in", into, "--retriever", "bm25", "--json")
    )
    assert lexical[0]["headings"][-1] == "Renewals"
    hybrid = json.loads(
        run("retrieve", "renewed twice", "--in", into, "--retriever", "hybrid", "--json")
    )
    assert hybrid[0]["headings"][-1] == "Renewals" and set(hybrid[0]) == set(lexical[0])
    html = tmp_path / "map.html"
    first = json.loads(run("cluster", "--in", into, "--k", "3", "--out", html, "--json"))
    second = json.loads(run("cluster", "--in", into, "--k", "3", "--json"))
    assert first == second and len(first["clusters"]) == 3
    assert html.read_text().count("<circle") == sum(c["size"] for c in first["clusters"])


def test_errors_are_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:128")
    runner = CliRunner()
    result = runner.invoke(app, ["faq", "ask", "hi?", "--in", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "is not an FAQ folder" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["chunk", str(tmp_path / "missing.md"), "--json"])
    assert result.exit_code == 1 and "does not exist" in result.output
    (tmp_path / "a.txt").write_text("some text")
    result = runner.invoke(app, ["dedup", str(tmp_path), "--stages", "exact,fuzzy"])
    assert result.exit_code == 1 and "unknown dedup stages" in result.output
