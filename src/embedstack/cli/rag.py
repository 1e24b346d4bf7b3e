"""`embedstack chunk FILE...` and `embedstack retrieve QUESTION --in DIR`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.output import console, err, report_skipped


def chunk(
    files: list[Path] = typer.Argument(
        ...,
        help="Files or folders: .txt/.md (one document each), .jsonl/.csv (one per row, "
        "text in the `text` field/column).",
    ),
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
    from embedstack.apps.chunked import chunk_documents
    from embedstack.apps.rag import index_chunks, load_for_chunking
    from embedstack.cli.progress_view import progress_view
    from embedstack.store.collection import Collection
    from embedstack.text.chunking import Chunker, SemanticChunker

    with progress_view(err, enabled=not as_json) as progress:
        encoder = encoder_choice(model, pooling, precision, query_prefix, document_prefix).load()
        base = Chunker.for_encoder(encoder, chunk_tokens, chunk_overlap)
        loaded = load_for_chunking(files)
        chunker = SemanticChunker(encoder, base) if semantic else base
        chunked = chunk_documents(loaded.documents, chunker)
        if into is not None:
            with Collection.create(into, encoder, exist_ok=True) as collection:
                index_chunks(collection, chunked, progress)
    report_skipped(loaded.skipped)
    data = [c.to_dict() for c in chunked.chunks]
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for c in chunked.chunks:
        where = " > ".join(c.headings) or "-"
        console.print(
            f"[bold]{escape(c.id)}[/] {c.start}-{c.end} ({c.tokens} tokens) {escape(where)}",
            soft_wrap=True,
        )
    if into is not None:
        console.print(f"indexed {len(data)} chunks into {escape(str(into))}", soft_wrap=True)


def retrieve(
    question: str = typer.Argument(..., help="The question."),
    in_: Path = typer.Option(
        ..., "--in", help="Collection made by `index --chunk-tokens N` or `chunk --into`."
    ),
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

    Examples:

      embedstack index docs/ --into docs.es --chunk-tokens 128 --chunk-overlap 16

      embedstack retrieve "how long can I keep a DVD?" --in docs.es -k 3 --json
    """
    from embedstack.apps.rag import retrieve as run
    from embedstack.store.collection import Collection

    results = run(Collection.open(in_), question, k, parent=parent, retriever=retriever)
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for r in results:
        console.print(f"[bold]{escape(r['citation'])}[/] score {r['score']:.3f}", soft_wrap=True)
        console.print(r["parent"]["text"] if parent else r["text"], highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add `chunk` and `retrieve` to the CLI."""
    app.command("chunk")(chunk)
    app.command("retrieve")(retrieve)
