"""Units: deterministic row ranges of JSONL/Parquet shards, read exactly as `index` reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedstack.errors import InputError
from embedstack.text.loaders import load_documents
from embedstack.text.shards import Unit, plan_units, read_unit


def _jsonl(path: Path) -> Path:
    lines = [
        json.dumps({"id": "a", "text": "first"}),
        "",
        json.dumps({"text": "no id here", "tag": 1}),
        "{not json",
        json.dumps({"id": "b", "text": "caf\u00e9 \u2603"}),
        "   ",
        json.dumps({"id": 7, "text": "numeric id"}),
        json.dumps({"id": "c"}),
        json.dumps({"id": "d", "text": "last"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("unit_rows", [1, 2, 3, 100])
def test_jsonl_units_read_the_same_documents_as_index(tmp_path, unit_rows):
    path = _jsonl(tmp_path / "c.jsonl")
    plan = plan_units([path], unit_rows)
    assert plan.rows == 7  # non-blank lines
    assert [u.index for u in plan.units] == list(range(len(plan.units)))
    assert all(u.rows <= unit_rows for u in plan.units)
    docs, skipped = [], []
    for unit in plan.units:
        got, bad = read_unit(unit)
        docs += got
        skipped += bad
    expected = load_documents([path])
    assert [(d.id, d.text, d.metadata) for d in docs] == [
        (d.id, d.text, d.metadata) for d in expected.documents
    ]
    # rows without an id get `path:line`, the same line numbers as a whole-file read
    assert any(re.fullmatch(r".*c\.jsonl:3", d.id) for d in docs)
    assert sorted(str(s) for s in skipped) == sorted(str(s) for s in expected.skipped)


def test_plan_is_deterministic_and_survives_serialisation(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl")
    first, second = plan_units([tmp_path], 2), plan_units([tmp_path], 2)
    assert first.units == second.units
    assert [Unit.from_dict(u.to_dict()) for u in first.units] == first.units
    assert len({u.key for u in first.units}) == len(first.units)
    assert first.files == {path.as_posix(): path.stat().st_size}


def test_parquet_units_cross_row_groups(tmp_path):
    path = tmp_path / "p.parquet"
    table = pa.table(
        {
            "doc": [f"d{i}" for i in range(30)],
            "body": [f"text {i}" for i in range(30)],
            "year": list(range(30)),
        }
    )
    pq.write_table(table, path, row_group_size=7)
    plan = plan_units([path], 4)
    assert [u.rows for u in plan.units] == [4] * 7 + [2]
    docs = [d for u in plan.units for d in read_unit(u, _fields("body", "doc"))[0]]
    assert [d.id for d in docs] == [f"d{i}" for i in range(30)]
    assert [d.text for d in docs] == [f"text {i}" for i in range(30)]
    assert docs[9].metadata == {"year": 9, "path": path.as_posix()}


def _fields(text: str, id_: str):
    from embedstack.text.loaders import Fields

    return Fields(text=text, id=id_)


def test_repeated_id_in_a_unit_is_skipped_with_a_reason(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "x", "text": "a"}\n{"id": "x", "text": "b"}\n', encoding="utf-8")
    docs, skipped = read_unit(plan_units([path], 10).units[0])
    assert [d.text for d in docs] == ["a"]
    assert "duplicate id 'x'" in str(skipped[0])


def test_bad_inputs_are_refused_clearly(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported shard type"):
        plan_units([tmp_path / "notes.txt"])
    with pytest.raises(InputError, match=r"no \.jsonl or \.parquet files"):
        plan_units([tmp_path])
    with pytest.raises(InputError, match="no such file"):
        plan_units([tmp_path / "missing"])
    with pytest.raises(InputError, match="unit_rows"):
        plan_units([tmp_path], 0)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        plan_units([tmp_path / "broken.parquet"])
