"""`embedstack dedup PATH... [--threshold T] [--json] [--out DIR]`."""

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


def dedup(
    paths: list[Path] = typer.Argument(
        ...,
        help="Files or folders: .txt/.md (one item each), .jsonl/.csv (one item per row, "
        "text in the `text` field/column).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Semantic (cosine) threshold; default: the value calibrated for the model "
        "(known models only; others need --threshold or --calibrate).",
    ),
    near_threshold: float | None = typer.Option(
        None, "--near-threshold", help="Near-duplicate (5-gram Jaccard) threshold."
    ),
    stages: str = typer.Option(
        "exact,near,semantic", "--stages", help="Comma-separated: exact, near, semantic."
    ),
    chunks: bool = typer.Option(False, "--chunks", help="Compare chunks (ids path#n)."),
    chunk_tokens: int | None = typer.Option(
        None,
        "--chunk-tokens",
        "--max-tokens",
        help="Chunk size in the model's tokens, with --chunks (default: the model's limit).",
    ),
    keep: str = typer.Option("first", "--keep", help="Keeper: first (input order) or longest."),
    calibrate_file: Path | None = typer.Option(
        None, "--calibrate", help="JSONL of {text, group} to calibrate both thresholds on."
    ),
    model: str | None = model_option(envvar="EMBEDSTACK_MODEL"),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write report.json/.csv/.html and unique.jsonl here."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find exact, near and semantic duplicates among files (or their chunks).

    Example: embedstack dedup examples/dedup --json --out dedup-report
    """
    from embedstack.apps import dedup as d
    from embedstack.apps.dedup_calibrate import calibrate_dedup
    from embedstack.apps.dedup_report import report_dict, write_report, write_unique
    from embedstack.apps.rag import load_for_chunking
    from embedstack.cli.progress_view import progress_view
    from embedstack.errors import InputError
    from embedstack.text.chunking import Chunker, read_text

    wanted = tuple(s.strip() for s in stages.split(",") if s.strip())
    loaded = load_for_chunking(paths)
    ids, texts = [], []
    with progress_view(err, enabled=not as_json) as progress:
        choice = encoder_choice(model, pooling, precision, query_prefix, document_prefix)
        encoder = choice.load() if ("semantic" in wanted or chunks) else None
        chunker = Chunker.for_encoder(encoder, chunk_tokens) if chunks else None
        for doc in loaded.documents:
            if chunker is not None:
                for piece in chunker.chunk(doc.text, doc.id):
                    ids.append(piece.id)
                    texts.append(piece.text)
            else:
                ids.append(doc.id)
                texts.append(doc.text)
        near = near_threshold if near_threshold is not None else d.NEAR_THRESHOLD
        semantic = threshold
        if calibrate_file is not None:
            rows = [json.loads(x) for x in read_text(calibrate_file).splitlines() if x.strip()]
            if not rows or not all("text" in r and "group" in r for r in rows):
                raise InputError(f"{calibrate_file}: each line needs 'text' and 'group'")
            sample = [r["text"] for r in rows], [str(r["group"]) for r in rows]
            if near_threshold is None:
                near = calibrate_dedup(*sample, stage="near").threshold
            if threshold is None and encoder is not None:
                semantic = calibrate_dedup(*sample, stage="semantic", encoder=encoder).threshold
        finder = d.Deduplicator(
            encoder, near_threshold=near, semantic_threshold=semantic, stages=wanted, keep=keep
        )
        clusters = finder.find(ids, texts, progress=progress)
    report_skipped(loaded.skipped)
    by_id = dict(zip(ids, texts, strict=True))
    if out is not None:
        write_report(out, clusters, by_id, files=loaded.files)
        write_unique(out, ids, by_id, clusters)
    if as_json:
        typer.echo(json.dumps(report_dict(clusters, loaded.files), indent=2, ensure_ascii=False))
        return
    dupes = sum(len(c.duplicates) for c in clusters)
    console.print(f"{len(ids)} items, {len(clusters)} clusters, {dupes} duplicates")
    for c in clusters:
        line = f"[bold]{c.kind.value}[/] {c.score:.3f} keep {escape(c.keep)}"
        console.print(line, soft_wrap=True)
        for dup in c.duplicates:
            console.print(f"    drop {escape(dup)}", soft_wrap=True)
    if out is not None:
        console.print(f"report in {escape(str(out))}/report.html", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `dedup` to the CLI."""
    app.command("dedup")(dedup)
