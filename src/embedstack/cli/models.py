"""`embedstack models`: which models are available offline, and how to get the others."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

EXAMPLES = """
Examples:

  embedstack models

  embedstack models --json | jq '.[] | select(.installed | not) | .install'
"""


def register(app: typer.Typer) -> None:
    """Add the `models` command to `app`."""

    @app.command("models", epilog=EXAMPLES)
    def models(
        as_json: bool = typer.Option(
            False, "--json", help="Print a JSON list, one object per model."
        ),
    ) -> None:
        """List known models: installed or not, where from, licence, dimension."""
        from embedstack.encoders.resolve import catalog_status

        statuses = catalog_status()
        if as_json:
            typer.echo(json.dumps([s.to_dict() for s in statuses], indent=2))
            return
        table = Table(title="embedstack models")
        for column in ("name", "kind", "dim"):
            table.add_column(column, no_wrap=True)
        table.add_column("licence", max_width=12)
        # the status names the package or the install command: wrap it, never cut it
        table.add_column("status", overflow="fold")
        for s in statuses:
            name = f"{s.name} (default)" if s.default else s.name
            status = (
                f"[green]installed[/] ({s.source})"
                if s.installed
                else f"[yellow]missing[/]: {s.install}"
            )
            table.add_row(name, s.kind, str(s.dim), s.licence, status)
        Console(emoji=False).print(table)
        typer.echo(
            "Any Hugging Face model folder also loads by path: BERT, RoBERTa, XLM-R and MPNet "
            "built in, other architectures with pip install 'embedstack[torch]'."
        )
