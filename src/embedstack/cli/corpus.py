"""`embedstack embed-corpus`: embed a corpus of shards, resumably, locally or on Ray."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.progress_view import quiet_requested
from embedstack.distributed import JobStats, embed_shards
from embedstack.distributed.worker import UnitResult

err = Console(stderr=True, emoji=False)

EXAMPLES = """
Examples:

  embedstack embed-corpus shards/ --into vectors/ --model minilm

  embedstack embed-corpus shards/ --into vectors/ --model minilm --ray auto --workers 8

  embedstack embed-corpus corpus.jsonl --into my-collection --format collection --json

  embedstack embed-corpus shards/ --into vectors/ --model openai:text-embedding-3-small \\
      --ray ray://head:10001 --workers 16 --rpm 3000 --max-cost 20

Re-run the same command after an interruption: finished units are skipped.
"""


def _worker_line(stats: JobStats) -> str:
    return "  ".join(
        f"{name}: {w.rows:,} rows {w.rate:,.0f}/s" for name, w in sorted(stats.workers.items())
    )


@contextmanager
def _display(enabled: bool) -> Iterator[Any]:
    """A callback `on_unit(result, stats)` drawing overall and per-worker rates."""
    if not enabled:
        yield None
        return
    if not err.is_terminal:
        last = [0.0]

        def plain(result: UnitResult, stats: JobStats) -> None:
            if result.error is not None:
                err.print(f"failed {result.key}: {result.error}", highlight=False, markup=False)
            if time.monotonic() - last[0] > 5 or stats.done >= stats.rows:
                last[0] = time.monotonic()
                eta = "?" if stats.eta is None else f"{stats.eta:,.0f}s"
                err.print(
                    f"{stats.done:,}/{stats.rows:,} rows, {stats.rate:,.0f} rows/s, ETA {eta}; "
                    + _worker_line(stats),
                    highlight=False,
                    markup=False,
                )

        yield plain
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        overall = bar.add_task("rows", total=None, rate="")
        workers = bar.add_task("", total=None, rate="", visible=False)

        def draw(result: UnitResult, stats: JobStats) -> None:
            if result.error is not None:
                bar.console.print(
                    f"[red]failed[/] {escape(result.key)} on {escape(result.worker)}: "
                    f"{escape(result.error)}",
                    highlight=False,
                )
            bar.update(
                overall, completed=stats.done, total=stats.rows, rate=f"{stats.rate:,.0f} rows/s"
            )
            bar.update(workers, description=_worker_line(stats), visible=True)

        yield draw


def _print_summary(summary: dict[str, Any]) -> None:
    line = (
        f"{summary['embedded']:,} embedded, {summary['skipped']:,} skipped (done before), "
        f"{summary['failed']:,} failed, {summary['invalid']:,} invalid rows of "
        f"{summary['rows']:,} in {summary['seconds']:.1f}s"
    )
    err.print(line, highlight=False)
    for item in summary["invalid_rows"][:10]:
        err.print(f"  [yellow]invalid[/] {escape(item)}", highlight=False)
    if summary.get("cost"):
        err.print(f"cost estimate: {summary['cost']}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the embed-corpus command to the CLI app."""

    @app.command("embed-corpus", epilog=EXAMPLES)
    def embed_corpus_command(
        src: list[Path] = typer.Argument(..., help="JSONL/Parquet files or folders of shards."),
        into: str = typer.Option(
            ..., "--into", help="Folder of Parquet shards, a collection folder or a URL."
        ),
        model: str | None = model_option(
            "Model spec (default: the collection's, else $EMBEDSTACK_MODEL or minilm)."
        ),
        pooling: str | None = pooling_option(),
        precision: str | None = precision_option(),
        query_prefix: str | None = query_prefix_option(),
        document_prefix: str | None = document_prefix_option(),
        ray: str | None = typer.Option(
            None,
            "--ray",
            help="auto | local | ADDRESS: run on Ray (pip install 'embedstack\\[distributed]'). "
            "Absent: this process.",
        ),
        workers: int = typer.Option(1, "--workers", "-w", help="Ray actors / local processes."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Texts per batch."),
        fmt: str | None = typer.Option(
            None,
            "--format",
            help="parquet | collection (default: collection if --into is one or a URL).",
        ),
        unit_rows: int = typer.Option(
            1000, "--unit-rows", help="Rows per unit (the unit of retry and resume)."
        ),
        text_field: str = typer.Option("text", "--text-field", help="Field with the text."),
        id_field: str = typer.Option("id", "--id-field", help="Field with the id."),
        state: Path | None = typer.Option(
            None, "--state", help="Job manifest folder (default: inside/beside --into)."
        ),
        rpm: float | None = typer.Option(None, "--rpm", help="Hosted: requests/min, all workers."),
        tpm: float | None = typer.Option(None, "--tpm", help="Hosted: tokens/min, all workers."),
        max_cost: float | None = typer.Option(
            None, "--max-cost", help="Hosted: USD budget for the whole job."
        ),
        prices: str | None = typer.Option(None, "--prices", help="JSON price file override."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Plan (and price hosted models); embed nothing."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the summary (rows, embedded, skipped, failed, seconds)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    ) -> None:
        """Embed a corpus of JSONL/Parquet shards into Parquet shards or a collection.

        Resumable: work is split into units (file + row range), each written atomically
        and recorded; a re-run skips finished units and redoes failed or interrupted ones.
        """
        with _display(not (quiet or quiet_requested() or dry_run)) as on_unit:
            stats = embed_shards(
                [str(p) for p in src],
                into,
                model,
                fmt=fmt,
                ray=ray,
                workers=workers,
                batch_size=batch_size,
                unit_rows=unit_rows,
                text_field=text_field,
                id_field=id_field,
                state=state,
                options=encoder_choice(
                    model, pooling, precision, query_prefix, document_prefix
                ).options,
                rpm=rpm,
                tpm=tpm,
                max_cost=max_cost,
                prices=prices,
                dry_run=dry_run,
                on_unit=on_unit,
            )
        summary = stats.summary()
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            _print_summary(summary)
        if summary.get("duplicates"):
            err.print(
                f"[bold red]error:[/] {summary['duplicates']} ids appear in two units of the "
                f"input (e.g. {escape(str(summary['duplicate_ids'][0]))}); ids must be unique",
                highlight=False,
            )
            raise typer.Exit(1)
        if summary["failed"]:
            err.print(
                f"[bold red]{len(summary['failed_units'])} unit(s) failed[/]: re-run the same "
                "command to retry them",
                highlight=False,
            )
            raise typer.Exit(1)
