"""`embedstack cache`: how much the embedding cache holds and saves, and clearing it."""

from __future__ import annotations

import json

import typer

EXAMPLES = """
Examples:

  embedstack cache stats

  embedstack cache stats --path ./project-cache.sqlite --json

  embedstack cache clear --yes
"""


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Inspect or clear the persistent embedding cache.", no_args_is_help=True
    )
    path_option = typer.Option(
        None, "--path", help="Cache file (default: embeddings/cache.sqlite in EMBEDSTACK_HOME)."
    )

    @group.command("stats", epilog=EXAMPLES)
    def stats(
        path: str | None = path_option,
        as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
    ) -> None:
        """Entries stored and where the file is."""
        from embedstack.encoders.cache import EmbeddingCache

        with EmbeddingCache(path) as cache:
            numbers = cache.stats().to_dict()
        if as_json:
            typer.echo(json.dumps({"entries": numbers["entries"], "path": numbers["path"]}))
        else:
            typer.echo(f"{numbers['entries']} cached embeddings in {numbers['path']}")

    @group.command("clear", epilog=EXAMPLES)
    def clear(
        path: str | None = path_option,
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    ) -> None:
        """Delete every cached embedding (the next run pays for them again)."""
        from embedstack.encoders.cache import EmbeddingCache

        with EmbeddingCache(path) as cache:
            if not yes:
                typer.confirm(f"delete all cached embeddings in {cache.path}?", abort=True)
            removed = cache.clear()
        typer.echo(f"removed {removed} cached embeddings")

    app.add_typer(group, name="cache")
