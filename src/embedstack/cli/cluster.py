"""`embedstack cluster --in DIR [--clusters N] [--out FILE.html] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console(emoji=False)


def cluster(
    in_: str = typer.Option(..., "--in", help="Collection folder or postgresql:// URL."),
    clusters: int | None = typer.Option(
        None, "--clusters", "--k", help="Clusters for k-means (default: chosen by silhouette)."
    ),
    method: str = typer.Option("kmeans", "--method", help="kmeans or hdbscan."),
    min_size: int = typer.Option(5, "--min-size", help="HDBSCAN minimum cluster size."),
    projection: str = typer.Option("pca", "--projection", help="pca, or umap if installed."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same output)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write an interactive HTML map."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Cluster a collection's stored vectors and name clusters by their top terms.

    Example: embedstack cluster --in docs.es --clusters 4 --out map.html
    """
    from embedstack.apps.cluster import cluster_collection, write_html
    from embedstack.store.backend import as_location
    from embedstack.store.collection import Collection

    result = cluster_collection(
        Collection.open(as_location(in_)),
        method=method,
        k=clusters,
        seed=seed,
        projection=projection,
        min_cluster_size=min_size,
    )
    if out is not None:
        write_html(result, out, title=f"embedstack cluster map: {in_}")
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for c in data["clusters"]:
        terms = escape(", ".join(c["terms"]))
        console.print(f"[bold]{c['cluster']}[/] ({c['size']}): {terms}", soft_wrap=True)
    if data["noise"]:
        console.print(f"noise: {len(data['noise'])} items")
    if out is not None:
        console.print(f"map written to {escape(str(out))}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `cluster` to the CLI."""
    app.command("cluster")(cluster)
