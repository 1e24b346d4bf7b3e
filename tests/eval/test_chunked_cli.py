"""`embedstack eval --chunk-tokens`: one row per chunk size, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from .conftest import DATA

runner = CliRunner()
BEIR = str(DATA / "beir_tiny")


def chunked(cli: typer.Typer, *args: str) -> dict:
    result = runner.invoke(cli, ["eval", BEIR, "-m", "hash", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_has_one_row_per_size(cli: typer.Typer) -> None:
    data = chunked(cli, "--chunk-tokens", "4,8,64")
    assert (data["queries"], data["docs"]) == (6, 12)
    rows = data["chunk_sizes"]
    assert [r["max_tokens"] for r in rows] == [4, 8, 64]
    for row in rows:
        for key in ("ndcg@10", "recall@100", "mrr@10", "chunks", "seconds"):
            assert key in row, key
        assert 0 < row["ndcg@10"] <= 1 and 0 < row["recall@100"] <= 1
    chunks = [r["chunks"] for r in rows]
    assert chunks[0] > chunks[1] > chunks[2] == 12  # 64 tokens holds every tiny doc whole
    assert "ndcg@10" not in data  # the plain-eval keys stay out of the chunked shape


def test_size_holding_whole_documents_matches_plain_eval(cli: typer.Typer) -> None:
    plain = chunked(cli)
    assert "chunk_sizes" not in plain  # plain `eval --json` keeps its shape
    whole = chunked(cli, "--chunk-tokens", "64")["chunk_sizes"][0]
    assert whole["ndcg@10"] == pytest.approx(plain["ndcg@10"])
    assert whole["mrr@10"] == pytest.approx(plain["mrr@10"])
    # Whole documents live in the plain run's collection, not in the vector cache (no
    # vector is stored twice): as chunks they are embedded once, then come from the cache.
    assert whole["embedded"] == 12
    again = chunked(cli, "--chunk-tokens", "64")["chunk_sizes"][0]
    assert (again["embedded"], again["from_cache"]) == (0, 12)


def test_rerun_embeds_nothing_and_overlap_adds_chunks(cli: typer.Typer) -> None:
    first = chunked(cli, "--chunk-tokens", "6,12", "-k", "3")
    assert sum(r["embedded"] for r in first["chunk_sizes"]) > 0
    again = chunked(cli, "--chunk-tokens", "6,12", "-k", "3")
    assert [r["embedded"] for r in again["chunk_sizes"]] == [0, 0]
    assert [r["from_cache"] for r in again["chunk_sizes"]] == [
        r["chunks"] for r in again["chunk_sizes"]
    ]
    assert again["chunk_sizes"][0]["ndcg@3"] == first["chunk_sizes"][0]["ndcg@3"]
    overlapped = chunked(cli, "--chunk-tokens", "6,12", "--chunk-overlap", "3")
    assert overlapped["overlap"] == 3
    assert overlapped["chunk_sizes"][0]["chunks"] > first["chunk_sizes"][0]["chunks"]


def test_table_prints_a_row_per_size(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["eval", BEIR, "-m", "hash", "--chunk-tokens", "5, 50"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("nDCG@10" in line and "recall@100" in line and "chunks" in line for line in lines)
    assert len([line for line in lines if line.startswith("│")]) == 2
    assert "6 queries, 12 docs" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chunk-tokens", "64,abc"], "--chunk-tokens expects whole numbers"),
        (["--chunk-tokens", "1.5"], "--chunk-tokens expects whole numbers"),
        (["--chunk-tokens", "64,0"], "sizes must be at least 1 token, got 0"),
        (["--chunk-tokens", "-8"], "sizes must be at least 1 token, got -8"),
        (["--chunk-tokens", ""], "--chunk-tokens expects whole numbers"),
        (["--chunk-tokens", "8,16", "--chunk-overlap", "8"], "--chunk-overlap must be between"),
        (["--chunk-overlap", "4"], "--chunk-overlap needs --chunk-tokens"),
        (["--chunk-tokens", "64", "-r", "bm25"], "evaluates the dense retriever only"),
    ],
)
def test_bad_values_are_one_line_errors(cli: typer.Typer, args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["eval", BEIR, "-m", "hash", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.strip().count("\n") == 0, result.output


def test_size_above_the_model_limit_is_clamped_with_a_note(
    cli: typer.Typer, tmp_path: Path
) -> None:
    from tiny_models import make_numpy_bert

    model = make_numpy_bert(tmp_path / "bert", max_positions=40)  # 38 content tokens
    args = ["eval", BEIR, "-m", str(model), "--chunk-tokens", "16,64,38", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["max_tokens"] for r in data["chunk_sizes"]] == [16, 38]  # 64 -> 38, once
    assert len(data["notes"]) == 1
    assert "--chunk-tokens 64 is more than" in data["notes"][0]
    assert "(38 content tokens): evaluated at 38" in data["notes"][0]
    assert "evaluated at 38" in result.stderr
