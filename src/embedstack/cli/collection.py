"""`embedstack index` and `embedstack search`: build a collection from files, query it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

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
from embedstack.cli.explain import (
    EXPLAIN_HELP,
    RERANK_COLBERT_HELP,
    RERANK_HELP,
    pipeline_search,
    print_explanation,
)
from embedstack.cli.index_run import IndexRequest, run_index
from embedstack.cli.output import console, dumps, err, hit_json, print_hits
from embedstack.cli.vectors import (
    ANN_HELP,
    RESCORE_HELP,
    STORAGE_HELP,
    index_vectors,
    vector_inputs,
)
from embedstack.errors import InputError
from embedstack.store.backend import as_location
from embedstack.store.collection import Collection
from embedstack.store.filter_hints import range_type_warnings
from embedstack.store.vector_files import VectorFields
from embedstack.text.loaders import Fields

__all__ = ["console", "err", "hit_json", "index", "print_hits", "search"]
MAX_WHERE_DEPTH = 100  # JSON levels; the store allows 32 levels of $and/$or


def model_indexes(splade: Path | None, colbert: Path | None) -> dict[str, dict[str, Any]]:
    """Settings of the indexes that need a model folder (`--splade`, `--colbert`)."""
    folders = {"splade": splade, "colbert": colbert}
    return {name: {"model": str(f.resolve())} for name, f in folders.items() if f is not None}


def index(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or folders: .txt/.md (one document each), .jsonl, .csv; or vector "
        "files (.npy, .npz, .parquet) for a collection of your own vectors.",
    ),
    into: str = typer.Option(
        ...,
        "--into",
        help="Collection folder, or a postgresql://...?collection=NAME URL (created if missing).",
    ),
    model: str | None = model_option(
        "Model for a new collection [default: $EMBEDSTACK_MODEL or minilm]."
    ),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
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
    rebuild_vectors: bool = typer.Option(
        False,
        "--rebuild-vectors",
        help="Re-embed the stored texts of vector files that are missing or fail their "
        "checksum (repairs a damaged collection in place).",
    ),
    max_file_mb: float = typer.Option(
        10.0,
        "--max-file-mb",
        help="Largest .txt/.md file, or JSONL/CSV record text, to index (MB); larger "
        "ones are skipped with a message.",
    ),
    batch: int = typer.Option(
        1024,
        "--batch",
        help="Commit at least every this many documents (and about every 30 s), so an "
        "interrupted run resumes where it stopped.",
    ),
    truncate: str = typer.Option(
        "warn",
        "--truncate",
        help="Documents longer than the model embeds: warn (embed their start; one "
        "summary per run) or error (refuse the run before writing anything).",
    ),
    chunk_tokens: int | None = typer.Option(
        None,
        "--chunk-tokens",
        help="Index each document as chunks of at most N model tokens (ids DOC#n; search "
        "them with `embedstack retrieve`, which cites the document and its offsets).",
    ),
    chunk_overlap: int = typer.Option(
        0, "--chunk-overlap", help="Tokens shared by neighbouring chunks (with --chunk-tokens)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or lines."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    vector_field: str = typer.Option(
        "vector", "--vector-field", help="Parquet column / .npz array with the vectors."
    ),
    ann: str = typer.Option("exact", "--ann", help=ANN_HELP),
    storage: str | None = typer.Option(None, "--storage", help=STORAGE_HELP),
    rescore: str | None = typer.Option(None, "--rescore", help=RESCORE_HELP),
) -> None:
    """Index files into a collection; unchanged documents are not embedded again.

    Examples:

      embedstack index ./notes --into ./notes.es

      embedstack index faq.csv --csv-column answer --id-field qid --into ./faq.es

      embedstack index ./notes --into ./notes.es --prune

      embedstack index docs.jsonl --into ./docs.es --chunk-tokens 200 --chunk-overlap 20

      embedstack index ./notes --into ./notes.es --splade ./models/splade-v3

      embedstack index ./notes --into ./notes.es --colbert ./models/colbertv2.0

      embedstack index ./notes --into 'postgresql://me@localhost/kb?collection=notes'

      embedstack index vectors.npy --into ./vecs.es --ann hnsw --storage binary
    """
    if vector_inputs(paths):
        vector_fields = VectorFields(ids=id_field, vector=vector_field, text=text_field)
        return index_vectors(
            paths, Path(into), fields=vector_fields, ann=ann, storage=storage, rescore=rescore,
            rebuild_indexes=rebuild_indexes, as_json=as_json,
        )  # fmt: skip
    request = IndexRequest(
        paths=paths, into=into,
        model=encoder_choice(
            model, pooling, precision, query_prefix, document_prefix
        ).spec_or_encoder(),
        fields=Fields(text=text_field, id=id_field, csv_column=csv_column), bm25=bm25,
        wanted=model_indexes(splade, colbert), rebuild_indexes=rebuild_indexes, prune=prune,
        rebuild_vectors=rebuild_vectors, max_bytes=int(max_file_mb * 1e6), batch=batch,
        truncate=truncate, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
        as_json=as_json, quiet=quiet, ann=ann, storage=storage, rescore=rescore,
    )  # fmt: skip
    run_index(request)


def search(
    query: str | None = typer.Argument(None, help="What to look for."),
    in_: str = typer.Option(..., "--in", help="Collection folder or postgresql:// URL."),
    image: Path | None = typer.Option(
        None, "--image", help="Query by image (image collections from `index-images`)."
    ),
    k: int = typer.Option(10, "--k", "-k", help="Number of results."),
    retriever: str = typer.Option(
        "dense",
        "--retriever",
        "-r",
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

      embedstack search --image query.jpg --in ./photos.es
    """
    filters = _parse_where(where) if where else None
    if image is not None:
        from embedstack.cli.images import image_search

        return image_search(image, in_, k, filters, as_json)
    if query is None:
        raise InputError("give a query text, or --image PATH for an image collection")
    _check_query(query)
    explanation = None
    with (
        Collection.open(as_location(in_)) as collection,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        explanation = pipeline_search(
            collection, query, k=k, where=filters, retriever=retriever, rerank=rerank,
            rerank_colbert=rerank_colbert,
        )  # fmt: skip
        hits = explanation.hits
        # say why a filter matched nothing, when a range compares a number with a string
        hints = range_type_warnings(collection, filters) if filters and len(hits) < k else []
    for hint in hints:
        err.print(f"[yellow]warning:[/] {escape(hint)}", soft_wrap=True)
    for warning in caught:  # e.g. a BM25 query made only of stop words
        err.print(f"[yellow]warning:[/] {escape(str(warning.message))}", soft_wrap=True)
    if as_json and explain and explanation is not None:
        typer.echo(dumps(explanation.to_dict()))
    elif as_json:
        typer.echo(dumps([hit_json(h) for h in hits]))
    elif not hits:
        console.print("no results")
    elif explain and explanation is not None:
        print_explanation(explanation, console)
    else:
        print_hits(hits, f"{retriever} results for {query!r}")


def _check_query(query: str) -> None:
    """A query from the shell may hold bytes that are not UTF-8 (Python keeps them as
    lone surrogates); tokenizers cannot take them, so say what is wrong."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"the query holds a byte that is not UTF-8 text at position {exc.start} "
            f"({query[exc.start : exc.end].encode('utf-8', 'surrogateescape')!r}); "
            "check your terminal's encoding or retype the query"
        ) from None


def _parse_where(where: str) -> dict[str, Any]:
    try:
        filters = json.loads(where)
    except RecursionError:
        filters = None  # nested too deep for the JSON parser: refused below
    except ValueError as exc:
        raise InputError(f'--where must be JSON such as \'{{"lang": "en"}}\': {exc}') from None
    if filters is None or _depth(filters) > MAX_WHERE_DEPTH:
        raise InputError(
            f"--where nests more than {MAX_WHERE_DEPTH} levels deep: flatten the filter "
            '(one "$and"/"$or" list takes any number of conditions)'
        )
    if not isinstance(filters, dict):
        raise InputError(f'--where must be a JSON object such as \'{{"lang": "en"}}\', got {where}')
    return filters


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (any depth is safe to measure)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
