"""`embedstack index --prune`: documents whose source file or row is gone are deleted,
documents from other sources survive."""

import json

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store.collection import Collection


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EMBEDSTACK_DEBUG", raising=False)


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def index_json(*args):
    return json.loads(run("index", *args, "--model", "hash", "--json").stdout)


def write_rows(path, ids):
    path.write_text("".join(json.dumps({"id": i, "text": f"row {i} text"}) + "\n" for i in ids))


@pytest.fixture
def sources(tmp_path):
    notes, other = tmp_path / "notes", tmp_path / "other"
    (notes / "sub").mkdir(parents=True)
    other.mkdir()
    (notes / "keys.md").write_text("Rotate the API keys every ninety days.")
    (notes / "sub" / "tea.txt").write_text("Green tea steeps for three minutes.")
    write_rows(notes / "faq.jsonl", ["f1", "f2", "f3"])
    (other / "keep.txt").write_text("A document from another folder.")
    write_rows(other / "more.jsonl", ["o1"])
    return notes, other


def stored_ids(into):
    with Collection.open(into) as collection:
        return set(collection.ids())


def test_prune_deleted_files_and_removed_rows(sources, tmp_path):
    notes, other = sources
    into = tmp_path / "c.es"
    first = index_json(notes, other, "--into", into)
    assert first["total"] == 7 and first["pruned"] == 0
    (notes / "sub" / "tea.txt").unlink()
    write_rows(notes / "faq.jsonl", ["f1", "f3"])
    summary = index_json(notes, "--into", into, "--prune")
    assert summary["pruned"] == 2 and summary["total"] == 5
    assert summary["unchanged"] == 3 and summary["embedded"] == 0  # existing keys kept
    tea = (notes / "sub" / "tea.txt").as_posix()
    assert stored_ids(into) == {(notes / "keys.md").as_posix(), "f1", "f3", "o1",
                                (other / "keep.txt").as_posix()}  # fmt: skip
    assert tea not in stored_ids(into)


def test_other_folders_survive_even_when_the_pruned_folder_is_empty(sources, tmp_path):
    notes, other = sources
    into = tmp_path / "c.es"
    index_json(notes, other, "--into", into)
    for path in [notes / "keys.md", notes / "sub" / "tea.txt", notes / "faq.jsonl"]:
        path.unlink()
    summary = index_json(notes, "--into", into, "--prune")
    assert summary["pruned"] == 5 and summary["total"] == 2
    assert stored_ids(into) == {(other / "keep.txt").as_posix(), "o1"}


def test_without_prune_nothing_is_deleted(sources, tmp_path):
    notes, other = sources
    into = tmp_path / "c.es"
    index_json(notes, other, "--into", into)
    (notes / "keys.md").unlink()
    summary = index_json(notes, "--into", into)
    assert summary["pruned"] == 0 and summary["total"] == 7


def test_prune_matches_absolute_and_relative_paths(sources, tmp_path, monkeypatch):
    notes, _ = sources
    into = tmp_path / "c.es"
    monkeypatch.chdir(tmp_path)
    index_json("notes", "other", "--into", into)  # stored paths are relative
    write_rows(notes / "faq.jsonl", ["f2"])
    summary = index_json(notes.resolve(), "--into", into, "--prune")
    # .txt/.md ids are the path as given, so the two files come back under absolute ids
    # and their relative-id copies are pruned with the removed rows f1 and f3
    assert summary["pruned"] == 4 and summary["added"] == 2
    ids = stored_ids(into)
    assert {"f1", "f3", "notes/keys.md", "notes/sub/tea.txt"}.isdisjoint(ids)
    assert {"f2", "o1", "other/keep.txt", (notes / "keys.md").as_posix()} <= ids


def test_a_file_with_skipped_lines_keeps_its_documents(sources, tmp_path):
    notes, _ = sources
    into = tmp_path / "c.es"
    index_json(notes, "--into", into)
    (notes / "faq.jsonl").write_text('{"id": "f1", "text": "row f1 text"}\nnot json\n')
    summary = index_json(notes, "--into", into, "--prune")
    assert summary["pruned"] == 0 and {"f2", "f3"} <= stored_ids(into)
    assert summary["skipped"][0]["where"].endswith("faq.jsonl:2")


def test_prune_reports_the_count_in_the_table(sources, tmp_path):
    notes, _ = sources
    into = tmp_path / "c.es"
    index_json(notes, "--into", into)
    (notes / "keys.md").unlink()
    result = run("index", notes, "--into", into, "--prune")
    assert "pruned 1 documents" in result.stdout
