"""The `embedstack` command: a thin shell that parses, calls one library function, formats.

Each command group lives in its own module exposing `register(app)`; add new modules to
`COMMAND_MODULES`. Errors that embedstack raises on purpose print one line (no
traceback) unless `--debug` or `EMBEDSTACK_DEBUG=1` is given.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from embedstack.cli.vocabulary import App, Group
from embedstack.errors import EmbedstackError

COMMAND_MODULES = (
    "embedstack.cli.embed",
    "embedstack.cli.collection",
    "embedstack.cli.demo",
    "embedstack.cli.models",
    "embedstack.cli.faq",
    "embedstack.cli.dedup",
    "embedstack.cli.rag",
    "embedstack.cli.cluster",
    "embedstack.cli.cache",
    "embedstack.cli.serve",
    "embedstack.cli.eval",
    "embedstack.cli.tune",
    "embedstack.cli.distill",
    "embedstack.cli.tour",
    "embedstack.cli.images",
    "embedstack.cli.corpus",
    "embedstack.cli.drift",
    "embedstack.cli.versions",
    "embedstack.cli.migrate",
    "embedstack.cli.compress",
)

# Which module defines each command, so that the `embedstack` process imports only the
# module of the command it runs (`search` must not pay for what `compare` or `serve`
# import). A name missing here still works: every module is registered then.
# tests/cli/test_cold_start.py keeps this in step with the modules.
COMMAND_INDEX = {
    "embed": "embedstack.cli.embed",
    "index": "embedstack.cli.collection",
    "search": "embedstack.cli.collection",
    "demo": "embedstack.cli.demo",
    "models": "embedstack.cli.models",
    "faq": "embedstack.cli.faq",
    "dedup": "embedstack.cli.dedup",
    "chunk": "embedstack.cli.rag",
    "retrieve": "embedstack.cli.rag",
    "cluster": "embedstack.cli.cluster",
    "cache": "embedstack.cli.cache",
    "serve": "embedstack.cli.serve",
    "eval": "embedstack.cli.eval",
    "eval-sts": "embedstack.cli.eval",
    "compare": "embedstack.cli.eval",
    "tune": "embedstack.cli.tune",
    "distill": "embedstack.cli.distill",
    "tour": "embedstack.cli.tour",
    "index-images": "embedstack.cli.images",
    "label": "embedstack.cli.images",
    "ui": "embedstack.cli.images",
    "embed-corpus": "embedstack.cli.corpus",
    "drift": "embedstack.cli.drift",
    "migrate": "embedstack.cli.versions",
    "versions": "embedstack.cli.versions",
    "alias": "embedstack.cli.versions",
    "migrate-store": "embedstack.cli.migrate",
    "compress-report": "embedstack.cli.compress",
}

err_console = Console(stderr=True, emoji=False)


class _FriendlyErrors(Group):
    """Turn EmbedstackError (and a few OS errors) into a one-line message and exit 1."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except (EmbedstackError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            if _debug(ctx):
                raise
            _one_line(str(exc))
            raise typer.Exit(code=1) from None
        except sqlite3.Error as exc:  # the store turns these into errors; a safety net
            if _debug(ctx):
                raise
            _one_line(f"database error ({exc}); run with --debug for details")
            raise typer.Exit(code=1) from None
        except EOFError as exc:
            # click prints a bare "Aborted." for EOFError: say what ended early instead.
            if _debug(ctx):
                raise RuntimeError(f"unexpected end of data: {exc}") from exc
            _one_line(f"unexpected end of data ({exc}); run with --debug for details")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            _one_line(
                "interrupted: every committed batch is kept; run the same command again to resume"
            )
            raise typer.Exit(code=130) from None


def _debug(ctx: Any) -> bool:
    """--debug (known once the root callback ran) or EMBEDSTACK_DEBUG=1."""
    return bool(ctx.obj and ctx.obj.get("debug")) or os.environ.get("EMBEDSTACK_DEBUG") == "1"


def _one_line(message: str) -> None:
    # escape: messages like "pip install 'embedstack[hub]'" must not be read as markup;
    # soft_wrap: the error stays one line however narrow the terminal.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


app = App(
    cls=_FriendlyErrors,
    name="embedstack",
    help="Local-first embeddings and retrieval: embed, index, search, evaluate, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from embedstack import __version__

        typer.echo(f"embedstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        envvar="EMBEDSTACK_QUIET",
        help="No progress bars or progress lines (results and errors still print).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    from embedstack.cli.progress_view import set_global_quiet

    set_global_quiet(quiet)
    ctx.obj = {"debug": debug, "quiet": quiet}


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def _running_as_cli(argv0: str) -> bool:
    """True when this process is the `embedstack` command itself (the console script,
    `python -m embedstack` or this module), not a program importing `app` (the tests)."""
    path = Path(argv0)
    if path.stem == "embedstack":
        return True
    here = Path(__file__).resolve()
    return path.resolve() in (here, here.parent.parent / "__main__.py")


def _register(argv: list[str]) -> None:
    """Every command, or only the invoked command's module when the CLI runs one."""
    if _running_as_cli(argv[0] if argv else ""):
        command = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
        module = COMMAND_INDEX.get(command or "")
        if module is not None:
            importlib.import_module(module).register(app)
            return
    _register_all()


_register(sys.argv)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="embedstack")


if __name__ == "__main__":  # pragma: no cover
    main()
