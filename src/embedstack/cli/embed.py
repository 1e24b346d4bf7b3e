"""`embedstack embed`: texts in, vectors out (a preview table, or JSON with --json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from embedstack.cli.encoder_options import (
    EncoderChoice,
    document_prefix_option,
    encoder_choice,
    model_option,
    pooling_option,
    precision_option,
    query_prefix_option,
)
from embedstack.cli.progress_view import progress_view
from embedstack.errors import InputError
from embedstack.progress import Progress as ProgressFn
from embedstack.progress import report

if TYPE_CHECKING:
    from embedstack.encoders.hosted.cost import CostEstimate

EXAMPLES = """
Examples:

  embedstack embed "a cat sat on the mat" "dogs bark"

  embedstack embed --file questions.txt --kind query --json > vectors.json

  cat notes.txt | embedstack embed --file - --model ./my-model --pooling cls

  embedstack embed --model openai:text-embedding-3-small --dry-run corpus.txt
"""


def decode_utf8(data: bytes, name: str) -> str:
    """UTF-8 text, or an error naming the file and the byte offset of the bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1]
        raise InputError(
            f"{name} is not valid UTF-8 (byte offset {exc.start}: {bad!r}); convert it first, "
            "e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def read_lines(source: str) -> list[str]:
    """One text per line from a file or `-` (stdin); blank lines are skipped."""
    if source == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise InputError(f"{source} is not a file; give a text file with one text per line")
        data, name = path.read_bytes(), str(path)
    return [line for line in decode_utf8(data, name).splitlines() if line.strip()]


EMBED_BLOCK = 256  # texts between two progress reports


def embed_texts(
    texts: list[str], choice: EncoderChoice, kind: str, progress: ProgressFn | None = None
) -> dict[str, Any]:
    """The library call behind the command; returns the JSON document."""
    encoder = choice.load()
    parts = []
    report(progress, "embedding", 0, len(texts))
    for start in range(0, len(texts), EMBED_BLOCK):
        parts.append(encoder.encode(texts[start : start + EMBED_BLOCK], kind=kind))
        report(progress, "embedding", min(start + EMBED_BLOCK, len(texts)), len(texts))
    vectors = np.concatenate(parts)
    summary = _hosted_summary(encoder)
    if summary:
        Console(stderr=True, emoji=False).print(summary, highlight=False)
    return {"model": encoder.name, "dim": encoder.dim, "embeddings": vectors.tolist()}


def dry_run(
    args: list[str], file: str | None, model: str | None, kind: str, prices: str | None
) -> CostEstimate:
    """Tokens and cost of embedding with a hosted model, calling nothing. Arguments that
    name existing files (or -) are read as files, one text per line."""
    from embedstack.encoders.hosted.cost import estimate_cost

    items: list[str] = []
    for arg in args:
        items.extend(read_lines(arg) if arg == "-" or Path(arg).is_file() else [arg])
    items += read_lines(file) if file else []
    if not items:
        raise InputError("nothing to estimate: give FILE, --file FILE, or TEXT arguments")
    if not model:
        raise InputError("--dry-run needs a hosted --model, e.g. openai:text-embedding-3-small")
    return estimate_cost(model, items, kind=kind, prices=prices)


def _hosted_summary(encoder: Any) -> str | None:
    """`usage: ... · cache: ...` for hosted encoders, None for local ones."""
    usage = getattr(encoder, "usage", None)
    if usage is None:
        return None
    from embedstack.encoders.hosted.cost import usage_cost

    cost = usage_cost(encoder)
    line = f"usage: {usage.requests} requests, {usage.tokens} tokens"
    line += "" if cost is None else f" (${cost:.6f})"
    cache = getattr(encoder, "cache", None)
    if cache is not None:
        stats = cache.stats()
        line += f" · cache: {stats.hits} hits, {stats.misses} misses ({stats.path})"
    return line


def _preview(texts: list[str], result: dict[str, Any], kind: str) -> None:
    console = Console(emoji=False)
    vectors = np.asarray(result["embeddings"], dtype=np.float32).reshape(len(texts), -1)
    table = Table(title=Text(f"{result['model']} · {result['dim']} dims · {kind}"))
    table.add_column("#", justify="right")
    table.add_column("text", overflow="ellipsis", max_width=48, no_wrap=True)
    table.add_column("norm", justify="right")
    table.add_column("first values")
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        head = ", ".join(f"{v:+.4f}" for v in vector[:4])
        row = (str(i), text, f"{np.linalg.norm(vector):.4f}", f"[{head}, ...]")
        table.add_row(*(Text(cell) for cell in row))  # user text is never markup
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the `embed` command to `app`."""

    @app.command("embed", epilog=EXAMPLES)
    def embed(
        texts: list[str] = typer.Argument(None, help="Texts to embed.", show_default=False),
        file: str | None = typer.Option(
            None, "--file", "-f", help="Read one text per line from a file, or - for stdin."
        ),
        model: str | None = model_option(),
        pooling: str | None = pooling_option(),
        precision: str | None = precision_option(),
        query_prefix: str | None = query_prefix_option(),
        document_prefix: str | None = document_prefix_option(),
        kind: str = typer.Option(
            "document", "--kind", help="query | document (selects the prefix)."
        ),
        as_json: bool = typer.Option(False, "--json", help='Print {"model", "dim", "embeddings"}.'),
        dry_run_: bool = typer.Option(
            False,
            "--dry-run",
            help="Hosted models: count tokens and estimate the cost; call nothing. "
            "TEXT arguments naming files are read as files.",
        ),
        prices: str | None = typer.Option(
            None, "--prices", help="JSON price file overriding the shipped table (--dry-run)."
        ),
    ) -> None:
        """Embed texts with a local (or hosted) model."""
        if dry_run_:
            estimate = dry_run(list(texts or []), file, model, kind, prices)
            typer.echo(json.dumps(estimate.to_dict()) if as_json else estimate.summary())
            return
        items = list(texts or []) + (read_lines(file) if file else [])
        if not items:
            raise InputError(
                "nothing to embed: give TEXT arguments, --file FILE, or --file - for stdin"
            )
        err = Console(stderr=True, emoji=False)
        with progress_view(err, enabled=not as_json or err.is_terminal) as progress:
            choice = encoder_choice(model, pooling, precision, query_prefix, document_prefix)
            result = embed_texts(items, choice, kind, progress)
        if as_json:
            typer.echo(json.dumps(result))
        else:
            _preview(items, result, kind)
