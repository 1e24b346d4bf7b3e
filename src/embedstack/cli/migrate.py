"""`embedstack migrate-store SRC DST`: copy a collection between a folder and PostgreSQL."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape

from embedstack.store.backend import as_location

console = Console(emoji=False)


def migrate_store(
    src: str = typer.Argument(..., help="Collection to copy: a folder or a postgresql:// URL."),
    dst: str = typer.Argument(..., help="Destination (created when missing), folder or URL."),
    batch_size: int = typer.Option(1000, "--batch-size", help="Rows per committed batch."),
    sample: int = typer.Option(100, "--sample", help="Rows whose vectors are compared after."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Copy a collection between the embedded store and PostgreSQL, without re-embedding.

    Resumable: run the same command again after an interruption and rows already copied
    are skipped. Row counts and a sample of vectors are verified at the end.

    Examples:

      embedstack migrate-store ./notes.es 'postgresql://me@db.internal/kb?collection=notes'

      embedstack migrate-store 'postgresql://me@db.internal/kb?collection=notes' ./notes-copy.es
    """
    from embedstack.cli.progress_view import progress_view
    from embedstack.store.migrate import migrate_store as run

    with progress_view(enabled=not as_json) as bar:

        def progress(stage: str, done: int, total: int | None) -> None:
            if bar is not None:
                bar(stage, done, total or done)

        result = run(
            as_location(src),
            as_location(dst),
            batch_size=batch_size,
            sample=sample,
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps({"source": src, "destination": dst, **result.to_dict()}, indent=2))
        return
    console.print(
        f"copied {result.copied} of {result.total} rows into {escape(dst)} "
        f"({result.unchanged} already there); verified {result.verified} sampled rows",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the migrate-store command to the CLI app."""
    app.command("migrate-store")(migrate_store)
