import json

import pytest

from embedstack.errors import InputError
from embedstack.text.loaders import Fields, load_documents


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "docs"
    (root / "notes").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a.txt").write_text("Plain text about keys.\n")
    (root / "notes" / "b.md").write_text("# Title\n\nMarkdown body.")
    (root / ".git" / "config.txt").write_text("hidden")
    (root / "empty.txt").write_text("  \n")
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "latin1.txt").write_bytes(b"caf" + "é au lait".encode("latin-1"))
    lines = [
        json.dumps({"id": "j1", "text": "first line", "lang": "en"}),
        "{not json",
        json.dumps({"id": "j2", "body": "wrong field"}),
        "",
        json.dumps({"text": "no id here"}),
    ]
    (root / "data.jsonl").write_text("\n".join(lines) + "\n")
    (root / "table.csv").write_text('id,text,year\nc1,first row,2020\nc2,"second, row",2021\n')
    return root


def test_folder_is_read_recursively_and_bad_files_are_reported(corpus):
    result = load_documents([corpus])
    by_id = {d.id: d for d in result.documents}
    base = corpus.as_posix()
    assert set(by_id) == {
        f"{base}/a.txt",
        f"{base}/notes/b.md",
        "j1",
        f"{base}/data.jsonl:5",
        "c1",
        "c2",
    }
    assert by_id[f"{base}/a.txt"].text == "Plain text about keys.\n"
    assert by_id[f"{base}/notes/b.md"].metadata == {"path": f"{base}/notes/b.md"}
    assert by_id["j1"].metadata == {"lang": "en", "path": f"{base}/data.jsonl"}
    assert by_id["c2"].text == "second, row"
    assert by_id["c2"].metadata == {"year": "2021", "path": f"{base}/table.csv"}
    skipped = {s.where: s.reason for s in result.skipped}
    assert "invalid byte 0xe9 at byte offset 3" in skipped[f"{base}/latin1.txt"]
    assert skipped[f"{base}/empty.txt"] == "empty file"
    assert skipped[f"{base}/data.jsonl:2"].startswith("invalid JSON")
    assert "no string field 'text'" in skipped[f"{base}/data.jsonl:3"]
    assert len(result.skipped) == 4
    assert result.ignored == 1 and result.files == 4  # png ignored; hidden folder not read


def test_field_and_column_names_are_configurable(corpus, tmp_path):
    result = load_documents([corpus / "data.jsonl"], Fields(text="body", id="id"))
    assert [(d.id, d.text) for d in result.documents] == [("j2", "wrong field")]
    result = load_documents([corpus / "table.csv"], Fields(csv_column="year"))
    assert [d.text for d in result.documents] == ["2020", "2021"]
    result = load_documents([corpus / "table.csv"], Fields(csv_column="body"))
    assert "no column 'body' (columns: id, text, year)" in str(result.skipped[0])


def test_explicit_files_duplicates_and_missing_paths(corpus, tmp_path):
    (tmp_path / "dup.jsonl").write_text(json.dumps({"id": "j1", "text": "again"}) + "\n")
    result = load_documents([corpus / "data.jsonl", tmp_path / "dup.jsonl", corpus / "image.png"])
    assert [d.id for d in result.documents].count("j1") == 1
    reasons = [s.reason for s in result.skipped]
    assert any(r.startswith("duplicate id 'j1'") for r in reasons)
    assert any(r.startswith("unsupported type") for r in reasons)
    with pytest.raises(InputError, match="no such file or folder"):
        load_documents([tmp_path / "missing"])
