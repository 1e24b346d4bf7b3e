"""`embedstack faq build FILE --into DIR` and `embedstack faq ask "QUESTION" --in DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from embedstack.cli.encoder_options import (
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.vocabulary import group

console = Console(emoji=False)
faq_app = group(
    help="Semantic FAQ search with a calibrated 'no good answer' threshold.",
    no_args_is_help=True,
)


@faq_app.command("build")
def build(
    file: Path = typer.Argument(..., help="Q/A pairs: .csv/.tsv, .jsonl/.json or Markdown."),
    into: Path = typer.Option(..., "--into", help="Folder to create for the FAQ."),
    model: str | None = model_option(envvar="EMBEDSTACK_MODEL"),
    pooling: str | None = pooling_option(),
    precision: str | None = precision_option(),
    query_prefix: str | None = query_prefix_option(),
    document_prefix: str | None = document_prefix_option(),
    answers: bool = typer.Option(False, "--answers", help="Index the answers too."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Fixed no-answer threshold instead of calibrating one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Index an FAQ and learn its no-answer threshold.

    Example: embedstack faq build examples/faq/library-faq.md --into library.faq
    """
    from embedstack.apps.faq import FAQ
    from embedstack.cli.progress_view import progress_view

    encoder = encoder_choice(model, pooling, precision, query_prefix, document_prefix).load()
    with progress_view(enabled=not as_json) as progress:
        faq = FAQ.build(
            file, into, encoder, index_answers=answers, threshold=threshold,
            progress=progress,
        )  # fmt: skip
    info = {
        "into": str(into),
        "pairs": len(faq.pairs),
        "threshold": round(faq.threshold, 4),
        "calibration": faq.calibration.to_dict() if faq.calibration else None,
        "refusal": faq.refusal.calibration.to_dict() if faq.refusal else None,
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console.print(f"indexed {len(faq.pairs)} questions into {escape(str(into))}", soft_wrap=True)
    if faq.calibration:
        c = faq.calibration
        console.print(
            f"no-answer threshold {c.threshold:.3f} (precision {c.precision:.2f}, recall "
            f"{c.recall:.2f} on {c.positives} in-domain and {c.negatives} off-topic probes)"
        )
    if faq.refusal:
        r = faq.refusal.calibration
        console.print(
            "refusal model (score, margin, word coverage, known words): "
            f"F1 {r.f1:.2f} on {r.positives} in-domain and {r.negatives} off-topic and "
            "near-topic probes; `faq ask --explain` shows its signals"
        )


@faq_app.command("ask")
def ask(
    question: str = typer.Argument(..., help="The question."),
    in_: Path = typer.Option(..., "--in", help="FAQ folder made by `faq build`."),
    explain: bool = typer.Option(
        False, "--explain", help="Show the refusal signals and how each weighed."
    ),
    k: int = typer.Option(3, "--k", "-k", help="Matches to consider (best + alternatives)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Answer a question from the FAQ, or say there is no good answer.

    Examples:
      embedstack faq ask "when do you open?" --in library.faq --json
      embedstack faq ask "can I get a passport here?" --in library.faq --explain
    """
    from embedstack.apps.faq import FAQ

    result = FAQ.open(in_).ask(question, k=k, explain=explain)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if result.explanation is not None:
        _print_explanation(result.explanation)
    if result.no_answer:
        console.print(f"[yellow]no good answer[/] (best score {result.score:.3f})")
        for alt in result.alternatives:
            console.print(f"  maybe: {escape(alt['question'])} ({alt['score']:.3f})")
        return
    console.print(f"[bold]{escape(result.question or '')}[/] ({result.score:.3f})")
    console.print(result.answer or "", markup=False)


def _print_explanation(explanation: dict[str, Any]) -> None:
    """The signals of `ask --explain` as a small table, then the decision rule."""
    from rich.table import Table

    table = Table(title="refusal signals", title_justify="left")
    table.add_column("signal")
    table.add_column("value", justify="right", no_wrap=True)
    contributions = explanation.get("contributions")
    if contributions is not None:
        table.add_column("push to answer (log-odds)", justify="right", no_wrap=True)
    for name, value in explanation["signals"].items():
        row = [name, f"{value:.3f}"]
        if contributions is not None:
            row.append(f"{contributions[name]:+.2f}")
        table.add_row(*row)
    console.print(table)
    verdict = "answer" if explanation["answered"] else "refuse"
    if contributions is not None:
        console.print(
            f"{explanation['method']}: P(answerable) {explanation['probability']:.3f} vs cut "
            f"{explanation['cut']:.3f} (bias {explanation['bias']:+.2f}) -> {verdict}",
            highlight=False,
        )
    else:
        console.print(
            f"{explanation['method']}: score {explanation['signals']['score']:.3f} vs "
            f"{explanation['threshold']:.3f} -> {verdict}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add the `faq` commands to the CLI."""
    app.add_typer(faq_app, name="faq")
