from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from .conftest import DATA

runner = CliRunner()
BEIR = str(DATA / "beir_tiny")


def test_eval_json_has_the_contract_keys(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval", BEIR, "--model", "hash", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "ndcg@10",
        "recall@100",
        "mrr@10",
        "queries",
        "docs",
        "index_seconds",
        "query_seconds",
    ):
        assert key in data, key
    assert (data["queries"], data["docs"]) == (6, 12)
    assert 0 < data["ndcg@10"] <= 1


def test_eval_second_run_uses_cache_with_other_k(cli: typer.Typer) -> None:
    first = json.loads(runner.invoke(cli, ["eval", BEIR, "-m", "hash", "--json"]).stdout)
    second = json.loads(
        runner.invoke(cli, ["eval", BEIR, "-m", "hash", "-k", "3", "--json"]).stdout
    )
    assert first["embedded"] == 18
    assert (second["embedded"], second["from_cache"]) == (0, 18)
    assert "ndcg@3" in second and second["ndcg@10"] == first["ndcg@10"]


def test_eval_table_and_split(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval", BEIR, "--model", "hash", "--split", "train", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "ndcg@1" in result.stdout and "beir_tiny (train)" in result.stdout


def test_eval_faq_file(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval", str(DATA / "faq_tiny"), "-m", "hash", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["queries"] == 4


def test_eval_strict_refuses_problems(cli: typer.Typer, tmp_path: Path) -> None:
    faq = tmp_path / "faq.jsonl"
    faq.write_text(
        '{"question": "a?", "answer_id": "x", "answer": "one"}\n'
        '{"question": "b?", "answer_id": "x", "answer": "two"}\n'
    )
    ok = runner.invoke(cli, ["eval", str(faq), "-m", "hash", "--json"])
    assert ok.exit_code == 0
    strict = runner.invoke(cli, ["eval", str(faq), "-m", "hash", "--strict"])
    assert strict.exit_code == 1
    assert "error: dataset has problems (--strict): 1 conflicting answer texts" in strict.output


def test_eval_missing_qrels_is_an_error(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval", BEIR, "-m", "hash", "--split", "dev"])
    assert result.exit_code == 1
    assert "missing qrels/dev.tsv" in result.output


def test_eval_sts(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval-sts", str(DATA / "sts_tiny.tsv"), "-m", "hash", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pairs"] == 6 and data["spearman_x100"] == round(data["spearman"] * 100, 2)
    text = runner.invoke(cli, ["eval-sts", str(DATA / "sts_tiny.tsv"), "-m", "hash"]).stdout
    assert "Spearman x100" in text


def test_eval_params_reach_the_preset(cli: typer.Typer, monkeypatch) -> None:
    from embedstack.eval import runner as eval_runner

    seen = {}
    real_plan = eval_runner.plan

    def spy(name, params, model=None):  # type: ignore[no-untyped-def]
        seen.update(params)
        return real_plan(name, {}, model)

    monkeypatch.setattr(eval_runner, "plan", spy)
    result = runner.invoke(
        cli, ["eval", BEIR, "-m", "hash", "-p", "k1=1.5", "-p", "name=x=y", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"k1": 1.5, "name": "x=y"}
    bad = runner.invoke(cli, ["eval", BEIR, "-m", "hash", "-p", "novalue"])
    assert bad.exit_code == 1 and "--param expects KEY=VALUE" in bad.output
