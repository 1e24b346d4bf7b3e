"""Regression tests for issue 14 through the CLI: one line of error, never a traceback,
never "Aborted.", never invalid JSON, and the repair commands the errors name work."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store.collection import Collection


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.delenv("EMBEDSTACK_DEBUG", raising=False)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *texts):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for text in texts:
        assert text in lines[0], lines[0]


@pytest.fixture
def kb(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in {
        "loan.txt": "A loan is repaid in monthly instalments with interest.",
        "tea.txt": "Green tea steeps for three minutes in hot water.",
        "keys.md": "Rotate the API keys every ninety days.",
    }.items():
        (docs / name).write_text(text)
    into = tmp_path / "kb.es"
    assert run("index", docs, "--into", into).exit_code == 0
    return into


def files(path):
    return sorted(p.relative_to(path) for p in path.rglob("*") if "store.sqlite" not in p.name)


@pytest.mark.parametrize("damage", ["rm", "truncate"])
def test_lost_database_is_an_error_and_data_survives(kb, damage):
    before = files(kb)
    for name in ("store.sqlite-wal", "store.sqlite-shm"):
        (kb / name).unlink(missing_ok=True)
    if damage == "rm":
        (kb / "store.sqlite").unlink()
    else:
        (kb / "store.sqlite").write_bytes(b"")
    result = run("search", "loan", "--in", kb)
    one_line_error(result, "store.sqlite", "nothing was changed")
    assert files(kb) == before


def test_index_into_an_existing_empty_collection(tmp_path):
    into = tmp_path / "empty.es"
    Collection.create(into, "hash:64").close()  # e.g. a first index that crashed
    (tmp_path / "a.txt").write_text("some text to index")
    result = run("index", tmp_path / "a.txt", "--into", into, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 1


def test_damaged_vectors_are_refused_then_repaired(kb):
    segment = next((kb / "vectors").iterdir())
    array = np.load(segment)
    array[0, 0] = np.nan
    np.save(segment, array)
    result = run("search", "loan", "--in", kb, "--json")
    one_line_error(result, segment.name, "--rebuild-vectors")
    repaired = run("index", kb.parent / "docs", "--into", kb, "--rebuild-vectors")
    assert repaired.exit_code == 0, repaired.output
    query = "A loan is repaid in monthly instalments with interest."
    result = run("search", query, "--in", kb, "--json")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)  # strict JSON: no NaN
    assert hits[0]["id"].endswith("loan.txt")


def test_json_output_never_holds_nan():
    from embedstack.cli.output import dumps

    text = dumps([{"score": float("nan"), "stages": {"x": {"score": float("inf")}}}])
    assert json.loads(text) == [{"score": None, "stages": {"x": {"score": None}}}]


def test_zero_byte_vector_file_is_not_aborted(kb):
    next((kb / "vectors").iterdir()).write_bytes(b"")
    one_line_error(run("search", "loan", "--in", kb), "vectors")
    result = run("--debug", "search", "loan", "--in", kb)
    assert "Aborted" not in result.output


def test_unknown_metric_and_changed_dim(kb):
    manifest = kb / "manifest.json"
    original = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**original, "metric": "hamming"}))
    one_line_error(run("search", "loan", "--in", kb), "hamming")
    manifest.write_text(json.dumps({**original, "space": {**original["space"], "dim": 65}}))
    one_line_error(run("search", "loan", "--in", kb), "manifest.json says the vectors are 65-d")


def test_deleted_bm25_folder_says_rebuild_indexes_and_it_works(kb):
    shutil.rmtree(next((kb / "indexes").iterdir()))
    one_line_error(run("search", "loan", "--in", kb, "--retriever", "bm25"), "--rebuild-indexes")
    assert run("index", kb.parent / "docs", "--into", kb, "--rebuild-indexes").exit_code == 0
    result = run("search", "loan", "--in", kb, "--retriever", "bm25", "--json")
    assert json.loads(result.stdout)[0]["id"].endswith("loan.txt")


def test_deep_where_and_bad_query_bytes(kb):
    where = '{"a": 1}'
    for _ in range(2000):
        where = '{"$and": [' + where + "]}"
    one_line_error(run("search", "loan", "--in", kb, "--where", where), "levels deep")
    one_line_error(run("search", "lo\udcffan", "--in", kb), "not UTF-8")


def test_file_size_limit_skips_with_a_message_and_a_flag_raises_it(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 40_000)  # 0.2 MB on one line
    small = tmp_path / "small.txt"
    small.write_text("a small file")
    into = tmp_path / "c.es"
    result = run("index", big, small, "--into", into, "--max-file-mb", "0.1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["total"] == 1 and "--max-file-mb" in summary["skipped"][0]["reason"]
    result = run("index", big, small, "--into", into, "--max-file-mb", "1", "--json")
    assert json.loads(result.stdout)["total"] == 2


def test_unexpected_end_of_data_is_not_a_bare_aborted(kb, monkeypatch):
    """click prints only "Aborted." for an EOFError, even with --debug."""

    def truncated(*args, **kwargs):
        raise EOFError("No data left in file")

    monkeypatch.setattr(Collection, "open", truncated)
    one_line_error(run("search", "loan", "--in", kb), "unexpected end of data")
    result = run("--debug", "search", "loan", "--in", kb)
    assert result.output.strip() != "Aborted." and isinstance(result.exception, RuntimeError)
