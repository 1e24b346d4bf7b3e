"""`embedstack migrate`, `versions` and `alias`: change a collection's model safely.

`migrate` builds a new version from the stored texts beside the current one (resumable,
reads keep being served from the current version), checks it, and switches the
`current` alias; `alias` switches back; `versions` lists them and `--drop` removes one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from embedstack.cli.output import console, dumps, err
from embedstack.cli.progress_view import progress_view
from embedstack.errors import CollectionError, InputError
from embedstack.store.backend import as_location


def _load(spec: str, options: dict[str, Any]) -> Any:
    from embedstack.registry import load_encoder

    chosen = {k: v for k, v in options.items() if v is not None}
    try:
        return load_encoder(spec, **chosen)
    except TypeError as exc:  # an option the model's encoder does not take
        names = ", ".join("--" + k.replace("_", "-") for k in chosen)
        raise InputError(f"{spec} does not accept {names} ({exc}); drop the option") from None


def migrate(
    directory: str = typer.Argument(..., help="Collection folder."),
    to_model: str = typer.Option(..., "--to-model", help="Model spec of the new version."),
    pooling: str | None = typer.Option(
        None, "--pooling", help="mean | cls | max | last (default: the model's own)."
    ),
    precision: str | None = typer.Option(
        None, "--precision", help="float32 | int8: weights precision of a local model."
    ),
    query_prefix: str | None = typer.Option(
        None, "--query-prefix", help="Text put before every query (e.g. 'query: ')."
    ),
    document_prefix: str | None = typer.Option(
        None, "--document-prefix", help="Text put before every document (e.g. 'passage: ')."
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Texts per committed batch."),
    eval_dataset: Path | None = typer.Option(
        None, "--eval", help="BEIR-style dataset: refuse the switch if nDCG@10 drops."
    ),
    tolerance: float = typer.Option(
        0.01, "--tolerance", help="nDCG@10 the new version may lose before --eval refuses."
    ),
    force: bool = typer.Option(False, "--force", help="Switch even if --eval finds it worse."),
    switch: bool = typer.Option(
        True, "--switch/--no-switch", help="Point `current` at the new version when done."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Re-embed a collection with another model, beside the current version.

    The new version (v2, v3, ...) is built from the stored texts in committed batches
    while searches keep using the current one. Interrupted (even killed), run the same
    command again: it continues where it stopped and embeds nothing already committed.
    When every row is there (and --eval does not find it worse), `current` switches to it
    atomically; `embedstack alias DIR current v1` switches back.

    Examples:

      embedstack migrate ./notes.es --to-model bge-small

      embedstack migrate ./notes.es --to-model e5-small --query-prefix 'query: ' --eval ./beir-dev
    """
    from embedstack.store.collection import Collection

    options = dict(
        pooling=pooling,
        precision=precision,
        query_prefix=query_prefix,
        document_prefix=document_prefix,
    )
    if batch_size <= 0:
        raise InputError(f"--batch-size must be positive, got {batch_size}")
    encoder = _load(to_model, options)
    with Collection.open(as_location(directory)) as collection:
        with progress_view(err, enabled=not as_json and err.is_terminal) as progress:
            result = collection.migrate(encoder, batch_size=batch_size, progress=progress)
        summary: dict[str, Any] = {**result.to_dict(), "gate": None, "switched": False}
        gate = None
        if eval_dataset is not None:
            from embedstack.eval.gate import quality_gate

            old = Collection.open(collection.root, version=result.source)
            with old:
                gate = quality_gate(eval_dataset, old.encoder, encoder, tolerance=tolerance)
            summary["gate"] = gate.to_dict()
        refused = gate is not None and not gate.passed and not force
        if switch and not refused:
            collection.set_alias("current", result.version)
            summary["switched"] = True
        summary["current"] = result.version if summary["switched"] else result.source
    _report(summary, as_json)
    if refused and gate is not None:
        raise CollectionError(
            f"kept {result.source} current: {result.version} scores {gate.metric} "
            f"{gate.new:.4f} against {gate.old:.4f} on {eval_dataset} (tolerance "
            f"{tolerance}); switch anyway with --force or `embedstack alias {directory} "
            f"current {result.version}`, or drop it with `embedstack versions {directory} "
            f"--drop {result.version}`"
        )


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(dumps(summary))
        return
    resumed = " (resumed)" if summary["resumed"] else ""
    console.print(
        f"built {summary['version']}{resumed}: {summary['rows']} rows, "
        f"{summary['embedded']} embedded by this run",
        highlight=False,
    )
    if summary["gate"] is not None:
        gate = summary["gate"]
        console.print(
            f"{gate['metric']}: {summary['source']} {gate['old']:.4f} -> "
            f"{summary['version']} {gate['new']:.4f}",
            highlight=False,
        )
    console.print(f"current -> {summary['current']}", highlight=False)


def versions(
    directory: str = typer.Argument(..., help="Collection folder."),
    drop: str | None = typer.Option(
        None, "--drop", help="Delete this version (not the one `current` points at)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the versions as JSON."),
) -> None:
    """List a collection's versions: space, rows, state and the aliases pointing at each.

    Examples:

      embedstack versions ./notes.es

      embedstack versions ./notes.es --drop v1
    """
    from embedstack.store.collection import Collection

    with Collection.open(as_location(directory)) as collection:
        if drop is not None:
            collection.drop_version(drop)
            err.print(f"dropped {escape(drop)}", highlight=False)
        listed = collection.versions()
    if as_json:
        current = next((v.name for v in listed if v.current), None)
        typer.echo(dumps({"current": current, "versions": [v.to_dict() for v in listed]}))
        return
    for info in listed:
        space = info.space or {}
        marker = "*" if info.current else " "
        aliases = f" ({', '.join(info.aliases)})" if info.aliases else ""
        console.print(
            f"{marker} {info.name}{aliases}  {info.state}  {info.rows} rows  "
            f"{space.get('model', '?')}  dim {space.get('dim', '?')}  "
            f"pooling {space.get('pooling') or '-'}",
            highlight=False,
            soft_wrap=True,
        )


def alias(
    directory: str = typer.Argument(..., help="Collection folder."),
    name: str = typer.Argument(..., help="Alias to set, e.g. current."),
    version: str = typer.Argument(..., help="Version it points at, e.g. v1."),
) -> None:
    """Point an alias at a version, atomically (e.g. roll back: `alias DIR current v1`).

    Switching `current` first brings that version in step with every write since.

    Examples:

      embedstack alias ./notes.es current v1
    """
    from embedstack.store.collection import Collection

    with Collection.open(as_location(directory)) as collection:
        collection.set_alias(name, version)
    console.print(f"{escape(name)} -> {escape(version)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add migrate, versions and alias to the CLI app."""
    app.command("migrate")(migrate)
    app.command("versions")(versions)
    app.command("alias")(alias)
