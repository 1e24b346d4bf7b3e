"""`embedstack faq build FILE --into DIR` and `embedstack faq ask "QUESTION" --in DIR`."""

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
from embedstack.cli.vocabulary import group

console = Console()
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

    encoder = encoder_choice(model, pooling, precision, query_prefix, document_prefix).load()
    faq = FAQ.build(file, into, encoder, index_answers=answers, threshold=threshold)
    info = {
        "into": str(into),
        "pairs": len(faq.pairs),
        "threshold": round(faq.threshold, 4),
        "calibration": faq.calibration.to_dict() if faq.calibration else None,
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console.print(f"indexed {len(faq.pairs)} questions into {into}")
    if faq.calibration:
        c = faq.calibration
        console.print(
            f"no-answer threshold {c.threshold:.3f} (precision {c.precision:.2f}, recall "
            f"{c.recall:.2f} on {c.positives} in-domain and {c.negatives} off-topic probes)"
        )


@faq_app.command("ask")
def ask(
    question: str = typer.Argument(..., help="The question."),
    in_: Path = typer.Option(..., "--in", help="FAQ folder made by `faq build`."),
    k: int = typer.Option(3, "--k", "-k", help="Matches to consider (best + alternatives)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Answer a question from the FAQ, or say there is no good answer.

    Example: embedstack faq ask "when do you open?" --in library.faq --json
    """
    from embedstack.apps.faq import FAQ

    result = FAQ.open(in_).ask(question, k=k)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if result.no_answer:
        console.print(f"[yellow]no good answer[/] (best score {result.score:.3f})")
        for alt in result.alternatives:
            console.print(f"  maybe: {alt['question']} ({alt['score']:.3f})")
        return
    console.print(f"[bold]{result.question}[/] ({result.score:.3f})")
    console.print(result.answer or "")


def register(app: typer.Typer) -> None:
    """Add the `faq` commands to the CLI."""
    app.add_typer(faq_app, name="faq")
