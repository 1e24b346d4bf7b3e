"""`embedstack drift DIR [--against FILE_OR_DIR] [--json] [--out DIR]`."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from embedstack.drift import DriftReport, TrackResult
    from embedstack.progress import Progress as ProgressCallback
    from embedstack.store.collection import Collection

console = Console(emoji=False)
err = Console(stderr=True, emoji=False)


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """The library's (stage, done, total) progress on stderr (see `progress_view`)."""
    from embedstack.cli.progress_view import progress_view

    with progress_view(err, enabled=enabled) as progress:
        yield progress


def _against(path: Path, text_field: str) -> tuple[Collection | list[str], str]:
    """Another collection (a folder with a manifest) or texts read by the loaders."""
    from embedstack.errors import InputError
    from embedstack.store.collection import Collection
    from embedstack.text.loaders import Fields, load_documents

    if path.is_dir() and (path / "manifest.json").exists():  # a collection (see README)
        return Collection.open(path), str(path)
    if not path.exists():
        raise InputError(f"--against {path}: no such file or folder")
    result = load_documents([path], Fields(text=text_field))
    for skipped in result.skipped:
        err.print(f"[yellow]skipped[/] {escape(str(skipped))}", highlight=False)
    if not result.documents:
        raise InputError(f"--against {path}: no documents read (use .jsonl, .csv, .txt or .md)")
    return [d.text for d in result.documents], str(path)


def _write_report(out: Path, directory: Path, history: Path, result: TrackResult) -> list[Path]:
    """drift.png (the snapshots over time) and report.html (this run + the plot)."""
    from embedstack import atomic
    from embedstack.drift import load_snapshots, plot_snapshots

    out.mkdir(parents=True, exist_ok=True)
    written = []
    snapshots = load_snapshots(history)
    if snapshots:
        written.append(plot_snapshots(snapshots, out / "drift.png"))
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in result.report.metrics.items()
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in result.report.reasons)
    verdict = "DRIFT" if result.report.drift else "no drift"
    page = (
        "<!doctype html><meta charset='utf-8'><title>embedstack drift</title>"
        f"<h1>{html.escape(str(directory))}: {verdict}</h1>"
        f"<p>{html.escape(result.message)}</p><ul>{reasons}</ul>"
        f"<table border='1' cellpadding='4'>{rows}</table>"
        + ("<p><img src='drift.png' alt='drift over time'></p>" if snapshots else "")
    )
    atomic.write_text(out / "report.html", page)
    written.append(out / "report.html")
    return written


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return json.dumps(value) if isinstance(value, list) else str(value)


def _print(result: TrackResult) -> None:
    rep: DriftReport = result.report
    err.print(escape(result.message), highlight=False)
    if result.compared:
        colour = "red" if rep.drift else "green"
        console.print(f"[bold {colour}]{'DRIFT' if rep.drift else 'no drift'}[/]")
    for reason in rep.reasons:
        console.print(f"  - {escape(reason)}", highlight=False)
    for key, value in rep.metrics.items():
        console.print(f"  {escape(key)}: {escape(_fmt(value))}", highlight=False)


def drift(
    directory: Path = typer.Argument(..., help="Collection folder."),
    against: Path | None = typer.Option(
        None,
        "--against",
        help="Texts (.jsonl/.csv/.txt/.md file or folder, embedded with the collection's "
        "model) or another collection folder [default: rows added since the profile].",
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSONL field with the text."),
    rebuild: bool = typer.Option(
        False, "--rebuild-profile", help="Re-profile the collection as it is now first."
    ),
    alpha: float = typer.Option(
        0.05, "--alpha", help="False-positive rate on a same-distribution resample."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the samples and permutations."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write drift.png (runs over time) and report.html here."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    version: str | None = typer.Option(
        None, "--version", help="Version (or alias) of DIR to check [default: current]."
    ),
) -> None:
    """Detect drift: test new data against the collection's reference profile.

    The first run profiles the collection (saved in DIR/drift/); later runs compare the
    rows added since, or --against a file or another collection. Every comparison adds
    a snapshot to DIR/drift/snapshots.json.

    Examples:
      embedstack drift ./notes.es
      embedstack drift ./notes.es --against new-batch.jsonl --out drift-report
      embedstack drift ./notes.es --against ./notes-v2.es --json

      embedstack drift ./notes.es --version v1 --against ./notes.es/versions/v2
    """
    from embedstack.drift import Thresholds, drift_dir, track
    from embedstack.store.collection import Collection

    thresholds = Thresholds(alpha=alpha)
    with Collection.open(directory, version=version) as collection:
        history = drift_dir(collection)
        other, source = _against(against, text_field) if against is not None else (None, "")
        try:
            with _progress(not as_json) as progress:
                result = track(
                    collection,
                    other,
                    thresholds=thresholds,
                    rebuild=rebuild,
                    seed=seed,
                    source=source,
                    progress=progress,
                )
        finally:
            if isinstance(other, Collection):
                other.close()
    written = _write_report(out, directory, history, result) if out is not None else []
    if as_json:
        typer.echo(json.dumps(result.report.to_dict(), indent=2))
        if result.message:
            err.print(escape(result.message), highlight=False)
    else:
        _print(result)
    for path in written:
        err.print(f"wrote {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the drift command to the CLI app."""
    app.command("drift")(drift)
