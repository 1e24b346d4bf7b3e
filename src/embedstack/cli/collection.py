"""`embedstack index` and `embedstack search`: build a collection from files, query it."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from embedstack.cli.explain import (
    EXPLAIN_HELP,
    RERANK_COLBERT_HELP,
    RERANK_HELP,
    pipeline_search,
    print_explanation,
)
from embedstack.cli.vectors import (
    ANN_HELP,
    RESCORE_HELP,
    STORAGE_HELP,
    index_vectors,
    vector_inputs,
)
from embedstack.errors import InputError
from embedstack.search.pipeline import PRESETS as PIPELINE_PRESETS
from embedstack.store.collection import Collection
from embedstack.store.indexes import index_configs
from embedstack.store.manifest import MANIFEST
from embedstack.store.prune import prune_missing
from embedstack.store.vector_files import VectorFields
from embedstack.store.writes import Progress as ProgressCallback
from embedstack.text.loaders import Fields, LoadResult, load_documents
from embedstack.types import Hit

console = Console()
err = Console(stderr=True)


@contextmanager
def embedding_progress(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """A rich progress bar fed by `Collection.add/upsert(progress=...)` (on stderr)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("embed", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def hit_json(hit: Hit) -> dict[str, Any]:
    return {"id": hit.id, "score": hit.score, "text": hit.text, "metadata": hit.metadata}


def print_hits(hits: list[Hit], title: str) -> None:
    """One line per hit: rank, score, id, the start of the text (cut to the terminal)."""
    console.print(f"[bold]{escape(title)}[/]", soft_wrap=True)
    for rank, hit in enumerate(hits, start=1):
        line = Text(f"{rank:>3}. {hit.score:7.4f}  ")
        line.append(hit.id, style="cyan")
        line.append("  " + " ".join(hit.text.split()))
        console.print(line, no_wrap=True, overflow="ellipsis")


def _report_skipped(result: LoadResult) -> None:
    if result.skipped:
        err.print(f"[yellow]skipped {len(result.skipped)}:[/]")
        for item in result.skipped:
            err.print(f"  {escape(str(item))}", highlight=False, soft_wrap=True)


def model_indexes(splade: Path | None, colbert: Path | None) -> dict[str, dict[str, Any]]:
    """Settings of the indexes that need a model folder (`--splade`, `--colbert`)."""
    folders = {"splade": splade, "colbert": colbert}
    return {name: {"model": str(f.resolve())} for name, f in folders.items() if f is not None}


def ensure_model_indexes(collection: Collection, wanted: dict[str, dict[str, Any]]) -> None:
    """Build each wanted model index the collection lacks, or has with another model."""
    for name, settings in wanted.items():
        current = collection.manifest.indexes.get(name)
        if current is None or current.get("model") != settings["model"]:
            collection.rebuild_index(name, settings)


def index(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or folders: .txt/.md (one document each), .jsonl, .csv; or vector "
        "files (.npy, .npz, .parquet) for a collection of your own vectors.",
    ),
    into: Path = typer.Option(..., "--into", help="Collection folder (created if missing)."),
    model: str | None = typer.Option(
        None, "--model", help="Model for a new collection [default: $EMBEDSTACK_MODEL or minilm]."
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSONL field with the text."),
    id_field: str = typer.Option(
        "id", "--id-field", "--ids-field", help="JSONL field / CSV or Parquet column with the id."
    ),
    csv_column: str | None = typer.Option(
        None, "--csv-column", help="CSV column with the text [default: --text-field]."
    ),
    bm25: bool = typer.Option(
        True,
        "--bm25/--no-bm25",
        help="Build a BM25 keyword index in a new collection (on by default; --no-bm25 "
        "for dense only).",
    ),
    splade: Path | None = typer.Option(
        None,
        "--splade",
        help="Also build a SPLADE learned-sparse index with this masked-LM model folder.",
    ),
    colbert: Path | None = typer.Option(
        None,
        "--colbert",
        help="Also build a ColBERT late-interaction index (search it with --retriever "
        "colbert) with this ColBERT checkpoint folder.",
    ),
    rebuild_indexes: bool = typer.Option(
        False,
        "--rebuild-indexes",
        help="Rebuild the collection's BM25/SPLADE/ColBERT indexes from its stored texts "
        "(repairs a missing or damaged index).",
    ),
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Delete documents from files under the given PATHs that no longer exist or no "
        "longer contain them (documents from other sources are kept).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    vector_field: str = typer.Option(
        "vector", "--vector-field", help="Parquet column / .npz array with the vectors."
    ),
    ann: str = typer.Option("exact", "--ann", help=ANN_HELP),
    storage: str = typer.Option("float32", "--storage", help=STORAGE_HELP),
    rescore: str | None = typer.Option(None, "--rescore", help=RESCORE_HELP),
) -> None:
    """Index files into a collection; unchanged documents are not embedded again.

    Examples:

      embedstack index ./notes --into ./notes.es

      embedstack index faq.csv --csv-column answer --id-field qid --into ./faq.es

      embedstack index ./notes --into ./notes.es --prune

      embedstack index ./notes --into ./notes.es --splade ./models/splade-v3

      embedstack index ./notes --into ./notes.es --colbert ./models/colbertv2.0

      embedstack index vectors.npy --into ./vecs.es --ann hnsw --storage binary
    """
    if vector_inputs(paths):
        fields = VectorFields(ids=id_field, vector=vector_field, text=text_field)
        return index_vectors(
            paths, into, fields=fields, ann=ann, storage=storage, rescore=rescore,
            rebuild_indexes=rebuild_indexes, as_json=as_json,
        )  # fmt: skip
    existing = Collection.open(into, model) if (into / MANIFEST).exists() else None
    result = load_documents(paths, Fields(text=text_field, id=id_field, csv_column=csv_column))
    if not result.documents and not (prune and existing is not None):
        _report_skipped(result)
        raise InputError(
            f"no documents to index in {', '.join(map(str, paths))} "
            f"({len(result.skipped)} skipped, {result.ignored} of other types)"
        )
    wanted = model_indexes(splade, colbert)
    collection = existing or Collection.create(
        into, model, indexes={**index_configs(None if bm25 else ()), **wanted}
    )
    docs = result.documents
    with collection, embedding_progress(not as_json) as progress:
        if rebuild_indexes:
            for name in collection.index_names:
                collection.rebuild_index(name)
        report = collection.upsert(
            [d.text for d in docs],
            [d.id for d in docs],
            [d.metadata for d in docs],
            progress=progress,
        )
        pruned = prune_missing(collection, paths, result) if prune else []
        ensure_model_indexes(collection, wanted)
        total = len(collection)
    _report_skipped(result)
    if as_json:
        summary = {
            "collection": str(into),
            "documents": len(docs),
            "files": result.files,
            **report.to_dict(),
            "pruned": len(pruned),
            "total": total,
            "skipped": [{"where": s.where, "reason": s.reason} for s in result.skipped],
        }
        typer.echo(json.dumps(summary, indent=2))
        return
    if report.embedded == 0:
        console.print(
            f"nothing to embed: all {len(docs)} documents are unchanged "
            f"({len(report.metadata_only)} metadata updates); {total} in {escape(str(into))}",
            soft_wrap=True,
        )
    else:
        console.print(
            f"indexed {len(docs)} documents from {result.files} files into "
            f"{escape(str(into))}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged; embedded {report.embedded}; {total} in total",
            soft_wrap=True,
        )
    if prune:
        console.print(
            f"pruned {len(pruned)} documents whose source is gone; {total} in total",
            soft_wrap=True,
        )


def search(
    query: str = typer.Argument(..., help="What to look for."),
    in_: Path = typer.Option(..., "--in", help="Collection folder."),
    k: int = typer.Option(10, "-k", "--k", help="Number of results."),
    retriever: str = typer.Option(
        "dense",
        "--retriever",
        help="dense (embeddings), bm25 (keywords), splade (learned sparse; needs an index "
        "built with --splade), colbert (late interaction; needs an index built with "
        "--colbert) or hybrid (dense + bm25 fused; tuned by `embedstack tune --into`).",
    ),
    rerank: Path | None = typer.Option(None, "--rerank", help=RERANK_HELP),
    rerank_colbert: Path | None = typer.Option(None, "--rerank-colbert", help=RERANK_COLBERT_HELP),
    explain: bool = typer.Option(False, "--explain", help=EXPLAIN_HELP),
    where: str | None = typer.Option(
        None, "--where", help='Metadata filter as JSON, e.g. \'{"lang": "en"}\'.'
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of hits."),
) -> None:
    """Search a collection; best results first.

    Examples:

      embedstack search "how do I rotate the keys?" --in ./notes.es -k 5

      embedstack search "tax" --in ./faq.es --where '{"year": {"$gte": 2020}}' --json

      embedstack search "error code E1234" --in ./notes.es --retriever bm25

      embedstack search "rotate keys" --in ./notes.es --retriever hybrid --rerank ./ce --explain

      embedstack search "rotate keys" --in ./notes.es --retriever bm25 --rerank-colbert ./colbert
    """
    filters = None
    if where:
        try:
            filters = json.loads(where)
        except ValueError as exc:
            raise InputError(f'--where must be JSON such as \'{{"lang": "en"}}\': {exc}') from None
    explanation = None
    with Collection.open(in_) as collection, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reranking = rerank is not None or rerank_colbert is not None
        if retriever in PIPELINE_PRESETS or reranking or explain:
            explanation = pipeline_search(
                collection, query, k=k, where=filters, retriever=retriever, rerank=rerank,
                rerank_colbert=rerank_colbert,
            )  # fmt: skip
            hits = explanation.hits
        else:
            hits = collection.search(query, k=k, where=filters, retriever=retriever)
    for warning in caught:  # e.g. a BM25 query made only of stop words
        err.print(f"[yellow]warning:[/] {escape(str(warning.message))}", soft_wrap=True)
    if as_json and explain and explanation is not None:
        typer.echo(json.dumps(explanation.to_dict(), ensure_ascii=False, indent=2))
    elif as_json:
        typer.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        console.print("no results")
    elif explain and explanation is not None:
        print_explanation(explanation, console)
    else:
        print_hits(hits, f"{retriever} results for {query!r}")


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
