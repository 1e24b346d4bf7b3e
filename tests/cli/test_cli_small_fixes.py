"""Issue 15, item 15 and item 6: eval shows --param values and names FAQ files after
themselves, --cutoffs (and the old -k), a range filter on the wrong type warns."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store.collection import Collection
from embedstack.store.filter_hints import (
    FilterTypeWarning,
    range_conditions,
    range_type_warnings,
)

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data" / "eval"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))


def test_eval_shows_param_values_in_json_and_table() -> None:
    args = ["eval", str(DATA / "beir_tiny"), "-r", "bm25", "-p", "k1=1.2", "-p", "variant=bm25l"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"] == {"k1": 1.2, "variant": "bm25l"}
    table = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert "--param k1" in table.stdout and "1.2" in table.stdout
    assert "--param variant" in table.stdout and "bm25l" in table.stdout


def test_eval_cutoffs_and_the_old_k_spelling_agree() -> None:
    base = ["eval", str(DATA / "beir_tiny"), "-m", "hash", "--json"]
    new = json.loads(runner.invoke(app, [*base, "--cutoffs", "3,5"]).stdout)
    old = json.loads(runner.invoke(app, [*base, "-k", "3", "-k", "5"]).stdout)
    assert "ndcg@3" in new and "recall@5" in new
    assert {k: v for k, v in new.items() if "@" in k} == {k: v for k, v in old.items() if "@" in k}
    bad = runner.invoke(app, [*base, "--cutoffs", "3,x"])
    assert bad.exit_code == 1 and "--cutoffs takes whole numbers" in bad.output


def test_an_faq_file_eval_is_named_after_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "support"
    folder.mkdir()
    faq = folder / "billing-faq.csv"
    faq.write_text(
        "question,answer_id,answer\nHow do I pay?,a1,By card or transfer.\n"
        "Can I get a refund?,a2,Yes within 30 days.\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["eval", str(faq), "-m", "hash", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dataset"] == "billing-faq.csv"
    table = runner.invoke(app, ["eval", str(faq), "-m", "hash"], env={"COLUMNS": "120"})
    assert "billing-faq.csv (test)" in table.stdout and "support (test)" not in table.stdout


@pytest.fixture
def years(tmp_path: Path) -> Path:
    data = tmp_path / "d.jsonl"
    rows = [
        {"id": "a", "text": "tax rules for 2021", "year": 2021, "code": "B7"},
        {"id": "b", "text": "tax rules for 2019", "year": 2019, "code": "A1"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    into = tmp_path / "c.es"
    assert (
        runner.invoke(app, ["index", str(data), "--into", str(into), "-m", "hash"]).exit_code == 0
    )
    return into


def test_range_filter_on_the_wrong_type_warns(years: Path) -> None:
    where = '{"year": {"$gte": "2020"}}'
    result = runner.invoke(app, ["search", "tax", "--in", str(years), "--where", where])
    assert result.exit_code == 0, result.output
    assert "no results" in result.stdout
    assert "compares a string with the numbers stored in 'year'" in result.stderr
    assert 'write {"year": {"$gte": 2020}}' in result.stderr
    fixed_where = '{"year": {"$gte": 2020}}'
    fixed = runner.invoke(app, ["search", "tax", "--in", str(years), "--where", fixed_where])
    assert fixed.exit_code == 0, fixed.output
    assert "warning" not in fixed.stderr


def test_range_type_warnings_in_python(years: Path) -> None:
    with Collection.open(years) as col:
        assert range_type_warnings(col, {"year": {"$lt": 2020}}) == []  # matches b
        assert range_type_warnings(col, {"year": {"$gt": 3000}}) == []  # same type: no hint
        nested = {"$or": [{"lang": "en"}, {"code": {"$gt": 5}}]}
        (message,) = range_type_warnings(col, nested)
        assert "compares a number with the strings stored in 'code'" in message
        assert 'write {"code": {"$gt": "5"}}' in message
    assert list(range_conditions({"$and": [{"a": {"$gt": 1, "$in": [2]}}, {"b": 2}]})) == [
        ("a", "$gt", 1)
    ]


def test_collection_search_warns_about_a_range_on_the_wrong_type(years: Path) -> None:
    """The Python API says why a filtered search came back short, as the CLI does."""
    with Collection.open(years) as col:
        with pytest.warns(FilterTypeWarning, match="compares a string with the numbers"):
            assert col.search("tax", where={"year": {"$gte": "2020"}}) == []
        with pytest.warns(FilterTypeWarning):
            assert col.search(["tax", "rules"], where={"year": {"$gte": "2020"}}) == [[], []]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # right type, or a full result: no warning
            assert len(col.search("tax", where={"year": {"$gte": 2020}})) == 1
            assert len(col.search("tax", k=1, where={"year": {"$gte": 2000}})) == 1


def test_tune_keeps_its_cache_under_cache_dir(tmp_path: Path) -> None:
    cache = tmp_path / "tune-cache"
    args = ["tune", str(DATA / "beir_tiny"), "-m", "hash", "--step", "0.5", "--json"]
    result = runner.invoke(app, [*args, "--cache-dir", str(cache), "-o", str(tmp_path / "f.json")])
    assert result.exit_code == 0, result.output
    assert (cache / "collections").is_dir() and any((cache / "collections").iterdir())
    assert json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
