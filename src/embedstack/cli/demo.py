"""`embedstack demo`: index a small shipped corpus with the default local model and
answer a few queries, so a new user sees search by meaning work in one command."""

from __future__ import annotations

import json
import tempfile
import time
from importlib import resources
from pathlib import Path

import typer
from rich.markup import escape

from embedstack.cli.collection import console, hit_json, print_hits
from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.progress_view import progress_view
from embedstack.store.collection import Collection
from embedstack.text.loaders import load_documents


def _demo_data() -> tuple[Path, list[str]]:
    folder = resources.files("embedstack") / "data" / "demo"
    queries = (folder / "queries.txt").read_text(encoding="utf-8").splitlines()
    return Path(str(folder / "corpus.jsonl")), [q for q in queries if q.strip()]


def demo(
    model: str | None = model_option(),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    k: int = typer.Option(3, "--k", "-k", help="Results per query."),
    query: list[str] | None = typer.Option(
        None, "--query", "-q", help="Ask your own question(s) instead of the built-in ones."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Index 40 short paragraphs on varied topics in a temporary folder and search them.

    Example:

      embedstack demo --query "how do tides work?"
    """
    corpus, queries = _demo_data()
    docs = load_documents([corpus]).documents
    with tempfile.TemporaryDirectory(prefix="embedstack-demo-") as tmp:
        started = time.perf_counter()
        choice = encoder_choice(model, pooling, precision, query_prefix, document_prefix)
        collection = Collection.create(Path(tmp) / "demo", choice.spec_or_encoder())
        with collection, progress_view(enabled=not as_json) as progress:
            collection.add(
                [d.text for d in docs],
                ids=[d.id for d in docs],
                metadata=[{"topic": d.metadata["topic"]} for d in docs],
                progress=progress,
            )
            seconds = time.perf_counter() - started
            answers = [(q, collection.search(q, k=k)) for q in (query or queries)]
            space = collection.space
    if as_json:
        out = {
            "model": space.model,
            "dim": space.dim,
            "documents": len(docs),
            "queries": [{"query": q, "hits": [hit_json(h) for h in hits]} for q, hits in answers],
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    console.print(
        f"indexed {len(docs)} paragraphs with [bold]{escape(space.model)}[/] ({space.dim}-d) "
        f"in {seconds:.1f} s; top {k} by cosine similarity:\n",
        soft_wrap=True,
    )
    for q, hits in answers:
        print_hits(hits, f"query: {q}")
        console.print()


def register(app: typer.Typer) -> None:
    """Add the demo command to the CLI app."""
    app.command("demo")(demo)
