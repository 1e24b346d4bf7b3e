"""`embedstack index-images`, `embedstack label` and `embedstack ui`: image collections
and the browser page. Text queries over an image collection use `embedstack search`
(with `--image` for query-by-image)."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from embedstack.cli.collection import hit_json, print_hits
from embedstack.cli.progress_view import progress_view

console = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def index_images_command(
    folder: Path = typer.Argument(..., help="Folder of images (recursive) or one image."),
    into: Path = typer.Option(..., "--into", help="Collection folder (created if missing)."),
    model: Path | None = typer.Option(
        None,
        "--model",
        "-m",
        help="CLIP or SigLIP model folder (Hugging Face layout); new collections.",
    ),
    bm25: bool = typer.Option(
        True, "--bm25/--no-bm25", help="Keyword index over file names, captions and EXIF text."
    ),
    max_pixels: int = typer.Option(
        64_000_000, "--max-pixels", help="Skip images with more pixels (decompression-bomb guard)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Index images (PNG, JPEG, WebP, GIF, BMP, TIFF) with a CLIP/SigLIP model; files
    whose bytes are unchanged are not embedded again; bad files are skipped with a reason.

    Examples:

      embedstack index-images ./photos --into ./photos.es --model ./clip-vit-base-patch32

      embedstack search "a red bicycle" --in ./photos.es

      embedstack search --image query.jpg --in ./photos.es
    """
    from embedstack.apps.images import index_images

    with progress_view(enabled=not as_json) as progress:
        report = index_images(
            folder, into, model, bm25=bm25, max_pixels=max_pixels, progress=progress
        )
    if as_json:
        typer.echo(json.dumps({"collection": str(into), **report.to_dict()}, indent=2))
        return
    for file, reason in report.skipped:
        err.print(f"[yellow]skipped[/] {escape(file)}: {escape(reason)}", soft_wrap=True)
    console.print(
        f"indexed images into {escape(str(into))}: {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.skipped)} skipped; {report.total} in total",
        soft_wrap=True,
    )


def label_command(
    collection: Path = typer.Argument(..., help="Image collection folder."),
    labels: str = typer.Option(..., "--labels", help='Comma-separated labels, e.g. "cat,dog,car".'),
    template: str = typer.Option(
        "a photo of a {}.", "--template", help="Prompt each label is put into ({} = the label)."
    ),
    top: int = typer.Option(3, "--top", help="Labels shown per image."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Zero-shot labels for every image, with calibrated probabilities (CLIP: softmax
    over the labels; SigLIP: an independent sigmoid per label).

    Examples:

      embedstack label ./photos.es --labels "cat,dog,car"

      embedstack label ./photos.es --labels "indoor,outdoor" --template "a photo taken {}" --json
    """
    from embedstack.apps.images import label_images

    results = label_images(collection, labels.split(","), template)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return
    for result in results:
        shown = ", ".join(f"{lab} {p:.3f}" for lab, p in result.labels[: max(top, 1)])
        console.print(f"[cyan]{escape(result.id)}[/]  {escape(shown)}", soft_wrap=True)


def image_search(image: Path, in_: str | Path, k: int, where: dict | None, as_json: bool) -> None:
    """`embedstack search --image`: nearest images to a query image."""
    from embedstack.apps.images import search_by_image

    hits = search_by_image(in_, image, k=k, where=where)
    if as_json:
        typer.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        console.print("no results")
    else:
        print_hits(hits, f"images like {image}")


def ui_command(
    folder: Path = typer.Argument(..., help="A collection folder, or a folder of collections."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8100, help="TCP port."),
    reranker: Path | None = typer.Option(
        None, "--reranker", help="Cross-encoder folder: offers the 'rerank' retriever."
    ),
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open a browser tab."),
) -> None:
    """A local web page to search collections: text (dense/bm25/hybrid/rerank, with
    per-stage scores) and images (thumbnail grid, query by uploaded image). No network.

    Examples:

      embedstack ui ./photos.es

      embedstack ui ./collections --reranker ./ms-marco-ce --no-open
    """
    from embedstack._optional import require
    from embedstack.server.ui import create_ui_app

    uvicorn = require("uvicorn", "server", "embedstack ui")
    app = create_ui_app(folder, reranker=reranker)
    url = f"http://{host}:{port}/ui/"
    console.print(f"serving {escape(str(folder))} at {url}", soft_wrap=True)
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the index-images, label and ui commands to the CLI app."""
    app.command("index-images")(index_images_command)
    app.command("label")(label_command)
    app.command("ui")(ui_command)
