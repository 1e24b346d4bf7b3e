"""`embedstack tune` and the `--explain` table, on a tiny BEIR set with the hashing model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from embedstack.cli import tune
from embedstack.cli.explain import pipeline_search, print_explanation
from embedstack.search.fusion import fusion_from_config
from embedstack.search.pipeline import Explanation
from embedstack.store.collection import Collection
from embedstack.types import Hit

DATA = Path(__file__).resolve().parents[1] / "data" / "eval" / "beir_tiny"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    app.callback()(lambda: None)
    tune.register(app)
    return app


def test_tune_reports_held_out_split_and_writes_file(app, tmp_path):
    out = tmp_path / "fusion.json"
    result = CliRunner().invoke(
        app, ["tune", str(DATA), "--model", "hash", "--out", str(out), "--step", "0.5", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["written"] == str(out)
    assert 0.0 <= data["test_score"] <= 1.0 and 0.0 <= data["train_score"] <= 1.0
    assert data["tried"] == 3 * 3 + 6  # 3 weightings x 3 normalisations + RRF (6 k, 1 weighting)
    assert fusion_from_config(json.loads(out.read_text())).config() == data["best"]


def test_tune_refuses_the_same_split_twice(app):
    result = CliRunner().invoke(
        app, ["tune", str(DATA), "--model", "hash", "--train-split", "test", "--test-split", "test"]
    )
    assert result.exit_code != 0
    assert "both the tuning and the reporting split" in str(result.exception)


def test_tune_into_needs_a_collection(app, tmp_path):
    result = CliRunner().invoke(
        app, ["tune", str(DATA), "--model", "hash", "--into", str(tmp_path / "nothing")]
    )
    assert result.exit_code != 0


def test_tune_into_commits_the_fusion_to_the_collection(app, tmp_path):
    from embedstack.search.pipeline import Pipeline

    col = Collection.create(tmp_path / "col", "hash:64", indexes=("bm25",))
    col.add(["rotate the keys", "reset the password"], ids=["a", "b"])
    result = CliRunner().invoke(
        app,
        ["tune", str(DATA), "--model", "hash", "--into", str(col.path), "--step", "0.5", "--json"],
    )
    assert result.exit_code == 0, result.output
    best = json.loads(result.output)["best"]
    assert not (col.path / "fusion.json").exists()  # committed state, not a loose file
    assert col.get_setting("fusion") == best
    assert Pipeline.from_spec(col, "hybrid").fusion == fusion_from_config(best)


def test_print_explanation_shows_each_stage():
    hits = [
        Hit(
            "d1",
            0.9,
            "some text",
            stages={"dense": {"score": 0.8, "rank": 2}, "fusion": {"score": 0.9, "rank": 1}},
        )
    ]
    console = Console(record=True, width=160)
    print_explanation(
        Explanation("q", ["dense", "bm25", "fusion"], hits, {"dense": 0.004}), console
    )
    text = console.export_text()
    assert "0.8000 (#2)" in text and "0.9000 (#1)" in text and "dense 4.0 ms" in text
    row = next(line for line in text.splitlines() if "d1" in line)
    assert " - " in row or "│ -" in row  # bm25 did not return it


def test_pipeline_search_single_retriever(tmp_path):
    col = Collection.create(tmp_path / "col", "hash:64", indexes=())
    col.add(["the cat sat", "dogs ran fast", "a river"], ids=["a", "b", "c"])
    explanation = pipeline_search(col, "cat", k=2, where=None, retriever="dense", rerank=None)
    assert explanation.stages == ["dense"]
    assert [h.id for h in explanation.hits] == [h.id for h in col.search("cat", k=2)]


def test_search_hybrid_explain_through_the_cli(tmp_path, monkeypatch):
    from embedstack.cli.main import app as main_app

    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    docs = tmp_path / "docs.jsonl"
    rows = [
        {"id": "keys", "text": "Rotate the API keys every ninety days."},
        {"id": "pw", "text": "Reset a forgotten password from the login form."},
        {"id": "bill", "text": "Invoices are billed on the first day of the month."},
    ]
    docs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    runner = CliRunner()
    made = runner.invoke(
        main_app, ["index", str(docs), "--into", str(tmp_path / "c"), "--model", "hash:64"]
    )
    assert made.exit_code == 0, made.output
    args = [
        "search",
        "rotate keys",
        "--in",
        str(tmp_path / "c"),
        "--retriever",
        "hybrid",
        "-k",
        "2",
    ]
    shown = runner.invoke(main_app, [*args, "--explain"])
    assert shown.exit_code == 0, shown.output
    assert "dense -> bm25 -> fusion" in shown.output and "keys" in shown.output
    as_json = json.loads(runner.invoke(main_app, [*args, "--explain", "--json"]).output)
    assert as_json["stages"] == ["dense", "bm25", "fusion"]
    assert as_json["hits"][0]["id"] == "keys" and as_json["hits"][0]["bm25"]["rank"] == 1
    plain = json.loads(runner.invoke(main_app, [*args, "--json"]).output)
    assert [h["id"] for h in plain] == [h["id"] for h in as_json["hits"]]
    missing = runner.invoke(main_app, [*args, "--rerank", str(tmp_path / "no-model")])
    assert missing.exit_code == 1 and "config.json" in missing.output


def test_eval_with_the_hybrid_preset(tmp_path, monkeypatch):
    from embedstack.cli.main import app as main_app

    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    args = ["eval", str(DATA), "--model", "hash:64", "--no-cache", "--json"]
    hybrid = json.loads(runner.invoke(main_app, [*args, "--retriever", "hybrid"]).output)
    assert hybrid["retriever"] == "hybrid" and 0.0 < hybrid["ndcg@10"] <= 1.0
    rrf = runner.invoke(
        main_app, [*args, "--retriever", "hybrid", "--param", 'fusion={"kind": "rrf", "k": 60}']
    )
    assert rrf.exit_code == 0, rrf.output
    monkeypatch.delenv("EMBEDSTACK_RERANKER", raising=False)
    missing = runner.invoke(main_app, [*args, "--retriever", "hybrid+rerank"])
    assert missing.exit_code == 1 and "EMBEDSTACK_RERANKER" in missing.output
