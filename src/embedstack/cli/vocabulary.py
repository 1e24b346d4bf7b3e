"""The CLI's one vocabulary: each option name means one thing in every command.

Written down once so that commands (and the test that walks them, see
tests/cli/test_vocabulary.py) agree: `-k/--k` is always a number of results, `-m/--model`
always a model spec, `-o/--out` always what the command writes, `--chunk-tokens` always a
chunk size. Spellings that meant the same thing before the vocabulary existed keep
working as hidden aliases (users' scripts depend on them): they are declared on the
option beside the canonical name and listed in `LEGACY_ALIASES`, which hides them from
`--help`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


@dataclass(frozen=True)
class Term:
    """A canonical option: its long name, its short flag (if any) and what it means."""

    name: str
    short: str | None
    meaning: str


TERMS: tuple[Term, ...] = (
    Term("--k", "-k", "number of results to return"),
    Term("--model", "-m", "model spec: catalog name, folder, provider:model or hash"),
    Term("--out", "-o", "file or folder the command writes its output to"),
    Term("--json", None, "print machine-readable JSON on stdout"),
    Term("--in", None, "the collection (folder or postgresql:// URL) to read"),
    Term("--into", None, "the collection or folder to create or update"),
    Term("--chunk-tokens", None, "chunk size in the model's tokens"),
    Term("--chunk-overlap", None, "tokens shared by neighbouring chunks"),
    Term("--pooling", None, "how token vectors become one vector: mean, cls, max, last"),
    Term("--precision", None, "weights precision of a local model: float32 or int8"),
    Term("--query-prefix", None, "text put before every query (default: the model's own)"),
    Term("--document-prefix", None, "text put before every document (the model's own)"),
    Term("--max-length", None, "the model's token limit; longer texts are cut"),
    Term("--cache-dir", None, "where embedded corpora and vectors are kept between runs"),
    Term("--no-cache", None, "neither read nor write cached vectors"),
    Term("--clusters", None, "number of clusters"),
    Term("--cutoffs", None, "extra metric cut-offs, e.g. 5,20"),
    Term("--retriever", "-r", "retrieval pipeline: dense, bm25, splade, colbert, hybrid, ..."),
    Term("--param", "-p", "a preset setting KEY=VALUE (repeatable)"),
    Term("--config", "-c", "a TOML setup file (repeatable)"),
    Term("--file", "-f", "read one text per line from a file, or - for stdin"),
    Term("--workers", "-w", "worker processes or actors"),
    Term("--quiet", "-q", "no progress output"),
    Term("--where", None, "metadata filter as JSON"),
    Term("--batch-size", None, "texts per encoder batch"),
)
BY_NAME = {term.name: term for term in TERMS}
# Terms whose short flag every command offering the term must offer too; other short
# flags are optional, but where present they mean their term.
SHORT_REQUIRED = ("--k", "--model", "--out")
BY_SHORT = {term.short: term for term in TERMS if term.short}

# The options every command that takes `--model` accepts (an encoder's space settings).
ENCODER_OPTIONS = ("--pooling", "--precision", "--query-prefix", "--document-prefix")

# command name -> {old spelling: canonical name}. Accepted, hidden from --help.
LEGACY_ALIASES: dict[str, dict[str, str]] = {
    "cluster": {"--k": "--clusters"},
    "eval": {"-k": "--cutoffs"},
    "chunk": {"--max-tokens": "--chunk-tokens", "--overlap": "--chunk-overlap"},
    "dedup": {"--max-tokens": "--chunk-tokens"},
    "demo": {"-q": "--query"},
}

# Names no command may show: they meant chunk size under other spellings.
RETIRED = ("--max-tokens", "--overlap")

# Commands taking a model that do not take the encoder options, and why.
NO_ENCODER_OPTIONS = {
    "serve": "serves several models at once; set options per model in Python",
    "index-images": "CLIP/SigLIP text towers take no options",
    "compare": "each setup sets its own pooling/prefixes in its TOML file",
}


def _visible(param: Any, hidden: set[str]) -> Any:
    """A copy of `param` without the names in `hidden` (for rendering help only)."""
    if not (set(param.opts) | set(param.secondary_opts)) & hidden:
        return param
    shown = copy.copy(param)
    shown.opts = [o for o in param.opts if o not in hidden]
    shown.secondary_opts = [o for o in param.secondary_opts if o not in hidden]
    return shown


def _no_bool_placeholder(params: list[Any]) -> list[Any]:
    # typer's rich help prints `<bool>` after every flag; a flag takes no value.
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A command whose help hides legacy aliases and shows flags without `<bool>`."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags marked to render without a value placeholder."""
        return _no_bool_placeholder(super().get_params(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Help without this command's legacy aliases (they still parse)."""
        hidden = set(LEGACY_ALIASES.get(self.name or "", {}))
        original = self.params
        self.params = [_visible(p, hidden) for p in original]
        try:
            super().format_help(ctx, formatter)
        finally:
            self.params = original


class Group(TyperGroup):
    """A command group whose help shows flags without `<bool>`."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags marked to render without a value placeholder."""
        return _no_bool_placeholder(super().get_params(ctx))


class App(typer.Typer):
    """`typer.Typer` whose commands use `Command` unless told otherwise."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        """`typer.Typer.command` with `cls=Command` by default."""
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


def group(**kwargs: Any) -> App:
    """A sub-command group (`embedstack faq ...`) speaking the vocabulary."""
    kwargs.setdefault("cls", Group)
    return App(**kwargs)


def parse_int_list(values: list[str], option: str) -> list[int]:
    """`["5,20", "100"]` (repeated and/or comma-separated) -> [5, 20, 100]."""
    from embedstack.errors import InputError

    out: list[int] = []
    for value in values:
        for part in str(value).split(","):
            if not part.strip():
                continue
            try:
                number = int(part)
            except ValueError:
                raise InputError(
                    f"{option} takes whole numbers such as 5,20; got {part!r}"
                ) from None
            if number < 1:
                raise InputError(f"{option} values must be at least 1, got {number}")
            out.append(number)
    return out
