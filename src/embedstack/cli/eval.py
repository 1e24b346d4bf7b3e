"""`embedstack eval`, `eval-sts` and `compare`: measure setups on your own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.progress_view import progress_view
from embedstack.progress import Progress as ProgressFn

if TYPE_CHECKING:
    from embedstack.eval.chunked import ChunkSizeResult
    from embedstack.eval.options import EvalOptions

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def eval_options(
    *,
    model: str | None = None,
    pooling: str | None = None,
    max_length: int | None = None,
    batch_size: int | None = None,
    no_cache: bool = False,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    params: dict[str, Any] | None = None,
    encoder: dict[str, Any] | None = None,
) -> EvalOptions:
    """The `EvalOptions` the eval-family flags describe (`encoder`: the options of
    `encoder_choice`, e.g. precision and prefixes)."""
    from embedstack.eval.options import EvalOptions

    return EvalOptions(
        model=model, encoder_options={**(encoder or {}), **_encoder_options(pooling, max_length)},
        batch_size=batch_size, cache=not no_cache, cache_dir=cache_dir, progress=progress,
        params=params or {},
    )  # fmt: skip


def _encoder_options(pooling: str | None, max_length: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if pooling:
        options["pooling"] = pooling
    if max_length:
        options["max_length"] = max_length
    return options


def _params(pairs: list[str]) -> dict[str, Any]:
    """`--param k1=1.2 --param rerank=./model` -> {"k1": 1.2, "rerank": "./model"}; values
    are read as JSON when they parse (numbers, true/false, objects), else as strings."""
    from embedstack.errors import InputError

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _warn(lines: list[str]) -> None:
    for line in lines:
        err_console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


MODEL_HELP = "Model spec (default: $EMBEDSTACK_MODEL or minilm), e.g. hash, ./my-model, openai:..."


def eval_command(
    dataset_dir: Path = typer.Argument(..., help="BEIR folder, or FAQ questions CSV/JSONL."),
    split: str = typer.Option("test", "--split", help="qrels/<split>.tsv to score."),
    retriever: str = typer.Option("dense", "--retriever", "-r", help="Retriever preset."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    max_length: int | None = typer.Option(
        None, "--max-length", help="The model's token limit; longer texts are cut."
    ),
    cutoffs: list[str] = typer.Option(
        [], "--cutoffs", "-k", help="Also report metrics at these cut-offs, e.g. 5,20."
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Preset setting KEY=VALUE (repeatable), e.g. k1=1.2."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    strict: bool = typer.Option(False, "--strict", help="Fail on any validation problem."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not keep or reuse the indexed corpus and vectors."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Where the indexed corpus and vectors are kept."
    ),
    chunk_tokens: str | None = typer.Option(
        None,
        "--chunk-tokens",
        help="Chunk documents at each size (e.g. 64,128,256); a document scores as its "
        "best chunk. One row per size (dense retriever only).",
    ),
    chunk_overlap: int = typer.Option(
        0, "--chunk-overlap", help="Tokens shared by neighbouring chunks (with --chunk-tokens)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score a retriever on a dataset: nDCG@10, recall@100, MRR@10, timing.

    Examples:
      embedstack eval ../shared/data/scifact
      embedstack eval ./faq.csv --retriever dense --model hash --json
      embedstack eval ./data --retriever bm25 -p k1=1.2 -p b=0.75 --cutoffs 5,20
      embedstack eval ./data --chunk-tokens 64,128,256 --chunk-overlap 16
    """
    from embedstack.cli.vocabulary import parse_int_list
    from embedstack.errors import InputError
    from embedstack.eval.datasets import load_retrieval_dataset
    from embedstack.eval.runner import evaluate_retrieval, metric_names

    k = parse_int_list(cutoffs, "--cutoffs")
    params = _params(param)
    choice = encoder_choice(model, None, precision, query_prefix, document_prefix)
    sizes = None
    if chunk_tokens is not None:
        from embedstack.eval.chunked import parse_chunk_sizes

        sizes = parse_chunk_sizes(chunk_tokens)
        if retriever != "dense" or param:
            raise InputError(
                "--chunk-tokens evaluates the dense retriever only; drop --retriever/--param"
            )
    elif chunk_overlap:
        raise InputError("--chunk-overlap needs --chunk-tokens, e.g. --chunk-tokens 128,256")
    dataset = load_retrieval_dataset(dataset_dir, split)
    if strict and not dataset.report.ok:
        raise InputError("dataset has problems (--strict): " + "; ".join(dataset.report.lines()))
    _warn(dataset.report.lines())
    with progress_view(enabled=not as_json) as progress:
        options = eval_options(
            model=model, pooling=pooling, max_length=max_length, batch_size=batch_size,
            no_cache=no_cache, cache_dir=cache_dir, progress=progress, params=params,
            encoder=choice.options,
        )  # fmt: skip
        if sizes is not None:
            from embedstack.eval.chunked import evaluate_chunked

            chunked = evaluate_chunked(dataset, sizes, options, metric_names(k), chunk_overlap)
        else:
            result = evaluate_retrieval(dataset, retriever, options, metric_names(k))
    if sizes is not None:
        _print_chunked(chunked, as_json)
        return
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "params": params}))
        return
    table = Table(title=f"{result.dataset} ({result.split}) · {retriever}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in params.items():
        table.add_row(f"--param {name}", json.dumps(value) if not isinstance(value, str) else value)
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("queries", str(result.queries))
    table.add_row("docs", str(result.docs))
    table.add_row("index seconds", f"{result.index_seconds:.2f}")
    table.add_row("query seconds", f"{result.query_seconds:.2f}")
    table.add_row("index memory", f"{result.memory_bytes / 2**20:.1f} MiB")
    table.add_row("embedded / from cache", f"{result.embedded} / {result.from_cache}")
    console.print(table)


def _print_chunked(result: ChunkSizeResult, as_json: bool) -> None:
    _warn(result.notes)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    title = f"{result.dataset} ({result.split}) · dense, documents as chunks"
    if result.overlap:
        title += f" (overlap {result.overlap})"
    table = Table(title=title)
    columns = ("chunk tokens", "nDCG@10", "recall@100", "MRR@10", "chunks", "seconds")
    for column in columns:
        table.add_column(column, justify="right")
    for row in result.rows:
        table.add_row(
            str(row.max_tokens),
            f"{row.metrics['ndcg@10']:.4f}",
            f"{row.metrics['recall@100']:.4f}",
            f"{row.metrics['mrr@10']:.4f}",
            str(row.chunks),
            f"{row.seconds:.2f}",
        )
    console.print(table)
    embedded = sum(row.embedded for row in result.rows)
    cached = sum(row.from_cache for row in result.rows)
    console.print(
        f"{result.queries} queries, {result.docs} docs; chunks embedded / from cache: "
        f"{embedded} / {cached}",
        highlight=False,
    )


def eval_sts_command(
    file: Path = typer.Argument(..., help="TSV/CSV/JSONL with score, sentence1, sentence2."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    max_length: int | None = typer.Option(
        None, "--max-length", help="The model's token limit; longer texts are cut."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not keep or reuse the indexed corpus and vectors."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Where the indexed corpus and vectors are kept."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Spearman (and Pearson) correlation of cosine similarity with gold STS scores.

    Example:
      embedstack eval-sts ../shared/data/stsb/sts-test.tsv --model minilm --pooling mean
    """
    from embedstack.eval.datasets import load_sts
    from embedstack.eval.runner import evaluate_sts

    dataset = load_sts(file)
    _warn(dataset.report.lines())
    choice = encoder_choice(model, None, precision, query_prefix, document_prefix)
    options = eval_options(
        model=model, pooling=pooling, max_length=max_length, no_cache=no_cache,
        cache_dir=cache_dir, encoder=choice.options,
    )  # fmt: skip
    encoder = options.encoder()
    with progress_view(enabled=not as_json) as progress:
        result = evaluate_sts(dataset, encoder, batch_size, progress)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    console.print(
        f"{escape(result.dataset)}: Spearman x100 = [bold]{result.spearman * 100:.2f}[/] "
        f"(Pearson x100 = {result.pearson * 100:.2f}, {result.pairs} pairs, {encoder.name})"
    )


def compare_command(
    dataset: Path = typer.Argument(..., help="BEIR folder, FAQ file, or STS TSV/CSV file."),
    config: list[Path] = typer.Option([], "--config", "-c", help="TOML config (repeatable)."),
    preset: str | None = typer.Option(None, "--preset", help="Built-in comparison: pooling."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model for --preset."),
    split: str = typer.Option("test", "--split"),
    out: Path = typer.Option(Path("compare-report"), "--out", "-o", help="Report folder."),
    cpu_hour_usd: float | None = typer.Option(None, "--cpu-hour-usd", help="$ per CPU-hour."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not keep or reuse the indexed corpus and vectors."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Where the indexed corpus and vectors are kept."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON object."),
) -> None:
    """Run several setups on one dataset; write an HTML report with plots.

    Plots quality (nDCG@10; Spearman for STS) against speed, cost and index memory.

    Examples:
      embedstack compare ../shared/data/scifact -c minilm.toml -c glove.toml
      embedstack compare ./faq.csv --preset pooling -m minilm -o pooling
    """
    from embedstack.eval.compare import load_configs, run_comparison
    from embedstack.eval.report import write_report

    configs = load_configs(config, preset=preset, model=model, cpu_hour_usd=cpu_hour_usd)
    with progress_view(enabled=not as_json) as progress:
        comparison = run_comparison(
            dataset, configs, split=split,
            options=eval_options(no_cache=no_cache, cache_dir=cache_dir, progress=progress),
        )  # fmt: skip
    index = write_report(comparison, out)
    if as_json:
        typer.echo(json.dumps({**comparison.to_dict(), "report": str(index)}))
    else:
        _print_comparison(comparison)
        console.print(f"report: {escape(str(index))}", soft_wrap=True, highlight=False)
    if comparison.failed:
        names = ", ".join(r.name for r in comparison.failed)
        err_console.print(
            f"[red]error:[/] {len(comparison.failed)} setup(s) failed while running ({names}); "
            "the report holds the setups that finished",
            highlight=False,
        )
        raise typer.Exit(1)


def _print_comparison(comparison: Any) -> None:
    """The compare table: numbers never wrap; a failed setup shows its error."""

    table = Table(title=escape(f"{comparison.dataset}: {comparison.quality_metric}"))
    table.add_column("config", overflow="fold")
    for column in (comparison.quality_metric, "docs/s (range)", "$ / 1M docs", "index MiB"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("speed / error", overflow="fold")
    for row in comparison.rows:
        if row.error is not None:
            cells = ["—"] * 4 + [f"[red]failed:[/] {escape(row.error)}"]
        else:
            cells = [
                f"{row.quality:.4f}",
                f"{row.throughput:.1f} ({row.throughput_low:.0f}–{row.throughput_high:.0f})",
                f"{row.cost_per_million:.4f}",
                f"{row.memory_bytes / 2**20:.1f}",
                escape(row.throughput_note),
            ]
        table.add_row(escape(row.name), *cells)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `eval`, `eval-sts` and `compare` to the CLI."""
    app.command("eval")(eval_command)
    app.command("eval-sts")(eval_sts_command)
    app.command("compare")(compare_command)
