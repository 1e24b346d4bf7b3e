"""`embedstack tune`: choose fusion settings on one split, report them on another."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)

console = Console(emoji=False)


def tune_command(
    dataset_dir: Path = typer.Argument(..., help="BEIR folder with qrels for two splits."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the chosen fusion to this JSON file."
    ),
    into: Path | None = typer.Option(
        None,
        "--into",
        help="Commit the chosen fusion to this collection (used by --retriever hybrid).",
    ),
    train_split: str = typer.Option("train", "--train-split", help="Split to tune on."),
    test_split: str = typer.Option("test", "--test-split", help="Held-out split to report on."),
    model: str | None = model_option("Dense model spec (default: $EMBEDSTACK_MODEL or minilm)."),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    depth: int = typer.Option(100, "--depth", help="Hits per retriever that fusion sees."),
    step: float = typer.Option(0.1, "--step", help="Weight grid step."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write cached vectors."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Where the indexed corpus and vectors are kept."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Grid-search fusion weights, normalisation and RRF k for dense + BM25, maximising
    nDCG@10 on the train split; report the choice on the test split (never the same queries).

    Examples:
      embedstack tune ../shared/data/scifact --out fusion.json
      embedstack tune ./my-beir-data --into ./my-collection
    """
    from embedstack.atomic import write_json
    from embedstack.cli.eval import eval_options
    from embedstack.cli.progress_view import progress_view
    from embedstack.errors import InputError
    from embedstack.eval.datasets import load_retrieval_dataset
    from embedstack.eval.tuning import tune_on_dataset
    from embedstack.search.spec import store_tuned_fusion
    from embedstack.store.collection import Collection

    if out is not None and into is not None:
        raise InputError("give either --out FILE or --into COLLECTION, not both")
    if into is not None:
        Collection.open(into).close()  # refuses a folder that is not a collection
    target = into if into is not None else out
    train = load_retrieval_dataset(dataset_dir, train_split)
    test = load_retrieval_dataset(dataset_dir, test_split)
    with progress_view(enabled=not as_json) as progress:
        choice = encoder_choice(model, pooling, precision, query_prefix, document_prefix)
        options = eval_options(
            model=model, no_cache=no_cache, cache_dir=cache_dir, progress=progress,
            encoder=choice.options,
        )  # fmt: skip
        result = tune_on_dataset(train, test, options, depth=depth, step=step)
    if into is not None:
        with Collection.open(into) as collection:
            store_tuned_fusion(collection, result.best)
    elif out is not None:
        write_json(out, result.best.config())
    data = result.to_dict() | {"written": str(target) if target else None}
    if as_json:
        typer.echo(json.dumps(data))
        return
    table = Table(
        title=f"fusion tuned on {train_split}, reported on {test_split} ({result.metric})"
    )
    table.add_column("setting")
    table.add_column(train_split, justify="right")
    table.add_column(test_split, justify="right")
    table.add_row(
        "default", f"{result.default_train_score:.4f}", f"{result.default_test_score:.4f}"
    )
    label = (
        f"tuned: kept the default (train gain {result.gain:+.4f} is within "
        f"2 x its standard error {result.gain_se:.4f})"
        if result.kept_default
        else f"tuned: {json.dumps(result.best.config())}"
    )
    table.add_row(label, f"{result.train_score:.4f}", f"{result.test_score:.4f}")
    console.print(table)
    wrote = f"; wrote {escape(str(target))}" if target else ""
    console.print(f"tried {len(result.tried)} settings{wrote}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `tune` to the CLI."""
    app.command("tune")(tune_command)
