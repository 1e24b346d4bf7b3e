"""`embedstack tour`: write the guided tour (HTML + PNGs, optionally the Markdown guide)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, emoji=False)


def tour(
    out: Path = typer.Option(
        Path("embedstack-tour"), "--out", "-o", help="Folder for index.html and the PNGs."
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the guide as Markdown here."
    ),
    splade: Path | None = typer.Option(
        None, "--splade", help="A SPLADE model folder, to show its term weights."
    ),
    cpu_usd_per_hour: float = typer.Option(
        0.05, "--cpu-usd-per-hour", help="Price of one CPU-hour, for the cost step."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Run seven short, real steps that explain embeddings and write them as a page.

    Example:

      embedstack tour --out docs/guide --markdown docs/guide.md
    """
    from embedstack.apps.tour import run_tour
    from embedstack.cli.progress_view import progress_view

    with progress_view(console, quiet=quiet) as progress:
        result = run_tour(
            out, markdown=markdown, splade=splade, cpu_usd_per_hour=cpu_usd_per_hour,
            progress=progress,
        )  # fmt: skip
    console.print(
        f"wrote {escape(str(result.html))}"
        + (f" and {escape(str(result.markdown))}" if result.markdown else "")
    )


def register(app: typer.Typer) -> None:
    """Add the tour command to the CLI app."""
    app.command("tour")(tour)
