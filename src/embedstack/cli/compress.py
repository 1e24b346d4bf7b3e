"""`embedstack compress-report`: which vector storage and index to pick, measured."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedstack.atomic import write_bytes
from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.eval.compress_report import ROW_KEYS, compress_report, retained, write_plots
from embedstack.eval.datasets import load_retrieval_dataset

console = Console(emoji=False)
MODEL_HELP = "Model spec (default: $EMBEDSTACK_MODEL or minilm), e.g. hash, ./my-model."


def compress_report_command(
    dataset_dir: Path = typer.Argument(..., help="BEIR folder (corpus, queries, qrels)."),
    split: str = typer.Option("test", "--split", help="qrels/<split>.tsv to score."),
    model: str | None = model_option(MODEL_HELP),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    ann: list[str] = typer.Option(
        ["exact", "hnsw"], "--ann", help="Index kinds to measure (repeatable)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write cached vectors."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write results.json and PNG plots into this folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as a JSON list."),
) -> None:
    """nDCG@10, recall@100, bytes per vector and latency of each storage (float32, float16,
    int8, binary, binary+int8/float32 rescoring, Matryoshka), exact and with HNSW.

    Examples:
      embedstack compress-report ../shared/data/scifact --out ./compress
      embedstack compress-report ./data --model hash --ann exact --json
    """
    dataset = load_retrieval_dataset(dataset_dir, split)
    choice = encoder_choice(model, pooling, precision, query_prefix, document_prefix)
    encoder = choice.load(cache=not no_cache)
    rows = compress_report(dataset, encoder, anns=tuple(ann))
    if out is not None:
        write_plots(rows, out, dataset.name)
        write_bytes(out / "results.json", json.dumps(rows, indent=2).encode() + b"\n")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    title = f"{dataset.name}: {len(dataset.queries)} queries, {len(dataset.corpus)} docs"
    table = Table(title=title)
    for key in (*ROW_KEYS, "retained"):
        table.add_column(key, justify="left" if key in ROW_KEYS[:3] else "right")
    for row, share in zip(rows, retained(rows), strict=True):
        table.add_row(*(str(row[k]) for k in ROW_KEYS), f"{100 * share:.1f}%")
    console.print(table)
    if out is not None:
        console.print(f"wrote {escape(str(out / 'results.json'))} and plots to {escape(str(out))}")


def register(app: typer.Typer) -> None:
    """Add `compress-report` to the CLI."""
    app.command("compress-report")(compress_report_command)
