"""`embedstack chunk FILE...` and `embedstack retrieve QUESTION --in DIR`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)

console = Console()


def chunk(
    files: list[Path] = typer.Argument(..., help="Files, or folders of .md/.txt files."),
    chunk_tokens: int | None = typer.Option(
        None,
        "--chunk-tokens",
        "--max-tokens",
        help="Chunk size in the model's tokens (default: its limit).",
    ),
    chunk_overlap: int = typer.Option(
        0, "--chunk-overlap", "--overlap", help="Tokens shared by neighbouring chunks."
    ),
    semantic: bool = typer.Option(False, "--semantic", help="Break where the topic changes."),
    model: str | None = model_option(envvar="EMBEDSTACK_MODEL"),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    into: Path | None = typer.Option(
        None, "--into", help="Also index the chunks into this collection (for `retrieve`)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the chunks as JSON."),
) -> None:
    """Split files into token-bounded chunks that keep offsets and heading paths.

    Example: embedstack chunk examples/docs --chunk-tokens 64 --json
    """
    from embedstack.apps.rag import chunk_files, index_files
    from embedstack.text.chunking import Chunker, SemanticChunker

    encoder = encoder_choice(model, pooling, precision, query_prefix, document_prefix).load()
    if into is not None:
        _, chunks = index_files(
            files, into, encoder, max_tokens=chunk_tokens, overlap=chunk_overlap, semantic=semantic
        )
    else:
        base = Chunker.for_encoder(encoder, chunk_tokens, chunk_overlap)
        chunks, _ = chunk_files(files, SemanticChunker(encoder, base) if semantic else base)
    data = [c.to_dict() for c in chunks]
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for c in chunks:
        where = " > ".join(c.headings) or "-"
        console.print(f"[bold]{c.id}[/] {c.start}-{c.end} ({c.tokens} tokens) {where}")
    if into is not None:
        console.print(f"indexed {len(chunks)} chunks into {into}")


def retrieve(
    question: str = typer.Argument(..., help="The question."),
    in_: Path = typer.Option(..., "--in", help="Collection made by `chunk --into`."),
    k: int = typer.Option(5, "--k", "-k", help="Chunks to return."),
    parent: bool = typer.Option(False, "--parent", help="Add the surrounding section."),
    retriever: str = typer.Option(
        "dense",
        "--retriever",
        "-r",
        help="dense, bm25, hybrid, ... (any retriever name `search` takes).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON ready for a prompt."),
) -> None:
    """Retrieve chunks with scores, citations, offsets (and their parent section).

    Example: embedstack retrieve "how long can I keep a DVD?" --in docs.es -k 3 --json
    """
    from embedstack.apps.rag import retrieve as run
    from embedstack.store.collection import Collection

    results = run(Collection.open(in_), question, k, parent=parent, retriever=retriever)
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for r in results:
        console.print(f"[bold]{r['citation']}[/] score {r['score']:.3f}")
        console.print(r["parent"]["text"] if parent else r["text"], highlight=False)


def register(app: typer.Typer) -> None:
    """Add `chunk` and `retrieve` to the CLI."""
    app.command("chunk")(chunk)
    app.command("retrieve")(retrieve)
