"""`embedstack cache`: how much the embedding cache holds and saves, and clearing it.

The cache has two stores behind one API (SQLite, the default, and a folder of `.npy`
shards); without `--path` both default stores are listed and cleared.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from embedstack.encoders.cache import VectorCache

EXAMPLES = """
Examples:

  embedstack cache stats

  embedstack cache stats --path ./project-cache.sqlite --json

  embedstack cache stats --path ./eval-vectors/      (a folder of .npy shards)

  embedstack cache clear --yes
"""


def _caches(path: str | None) -> list[VectorCache]:
    from embedstack.encoders.cache import default_caches, open_cache

    return [open_cache(path)] if path else default_caches()


def register(app: typer.Typer) -> None:
    """Add the `cache` command group to `app`."""
    from embedstack.cli.vocabulary import group as make_group

    group = make_group(
        help="Inspect or clear the persistent embedding cache.", no_args_is_help=True
    )
    path_option = typer.Option(
        None,
        "--path",
        help="A cache file (.sqlite) or shard folder (default: both default stores in "
        "EMBEDSTACK_HOME: embeddings/cache.sqlite and shards/).",
    )

    @group.command("stats", epilog=EXAMPLES)
    def stats(
        path: str | None = path_option,
        as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
    ) -> None:
        """Entries stored and where they are."""
        stores = []
        for cache in _caches(path):
            with cache:
                numbers = cache.stats().to_dict()
            stores.append({k: numbers[k] for k in ("backend", "entries", "path")})
        if as_json:
            total = sum(s["entries"] for s in stores)
            typer.echo(json.dumps({"entries": total, "path": stores[0]["path"], "stores": stores}))
            return
        for store in stores:
            typer.echo(
                f"{store['entries']} cached embeddings in {store['path']} ({store['backend']})"
            )

    @group.command("clear", epilog=EXAMPLES)
    def clear(
        path: str | None = path_option,
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    ) -> None:
        """Delete every cached embedding (the next run pays for them again)."""
        caches = _caches(path)
        if not yes:
            where = ", ".join(str(c.path) for c in caches)
            typer.confirm(f"delete all cached embeddings in {where}?", abort=True)
        removed = 0
        for cache in caches:
            with cache:
                removed += cache.clear()
        typer.echo(f"removed {removed} cached embeddings")

    app.add_typer(group, name="cache")
