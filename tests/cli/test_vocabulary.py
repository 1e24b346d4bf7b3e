"""Every command speaks the one CLI vocabulary (src/embedstack/cli/vocabulary.py).

Walks the real command tree: canonical names, short flags meaning one thing everywhere,
encoder options wherever a model is taken, legacy spellings hidden but still accepted,
and no `<bool>` placeholder in any help page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.cli.vocabulary import (
    BY_NAME,
    BY_SHORT,
    ENCODER_OPTIONS,
    LEGACY_ALIASES,
    NO_ENCODER_OPTIONS,
    RETIRED,
    SHORT_REQUIRED,
    TERMS,
)

runner = CliRunner()
ROOT = typer.main.get_command(app)


def commands(command: Any = ROOT, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(full name, command) for every leaf command, e.g. ("faq ask", <Command>)."""
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(path), command


ALL = dict(commands())


def options(command: Any) -> list[TyperOption]:
    return [p for p in command.params if isinstance(p, TyperOption)]


def names(option: TyperOption) -> list[str]:
    return [*option.opts, *option.secondary_opts]


def visible_names(name: str, option: TyperOption) -> list[str]:
    legacy = LEGACY_ALIASES.get(name.rsplit(maxsplit=1)[-1], {})
    return [n for n in names(option) if n not in legacy]


def option_named(command: Any, flag: str) -> TyperOption | None:
    return next((o for o in options(command) if flag in names(o)), None)


def test_the_walk_finds_the_commands() -> None:
    assert {"embed", "index", "search", "eval", "cluster", "chunk", "faq ask"} <= set(ALL)


def test_the_vocabulary_is_one_meaning_per_name_and_short_flag() -> None:
    assert len(BY_NAME) == len(TERMS)
    assert len(BY_SHORT) == len([t for t in TERMS if t.short])
    assert all(t.name.startswith("--") and t.meaning for t in TERMS)


@pytest.mark.parametrize("name", sorted(ALL))
def test_short_flags_mean_the_vocabulary_term(name: str) -> None:
    """A visible short flag is always the short form of its vocabulary term, and a
    command with `--k`, `--model` or `--out` offers `-k`, `-m`, `-o` too."""
    for option in options(ALL[name]):
        shown = visible_names(name, option)
        longs = [n for n in shown if n.startswith("--")]
        for short in (n for n in shown if not n.startswith("--")):
            term = BY_SHORT.get(short)
            assert term is not None, f"{name}: {short} is not in the vocabulary"
            assert term.name in longs, f"{name}: {short} means {longs}, not {term.name}"
        for long in longs:
            term = BY_NAME.get(long)
            if term is not None and term.short and long in SHORT_REQUIRED:
                assert term.short in shown, f"{name}: {long} without {term.short}"


@pytest.mark.parametrize("name", sorted(ALL))
def test_retired_spellings_are_never_shown(name: str) -> None:
    for option in options(ALL[name]):
        for retired in RETIRED:
            if retired in names(option):
                assert retired not in visible_names(name, option), f"{name} shows {retired}"


@pytest.mark.parametrize("name", sorted(ALL))
def test_commands_taking_a_model_take_the_encoder_options(name: str) -> None:
    command = ALL[name]
    if option_named(command, "--model") is None or name in NO_ENCODER_OPTIONS:
        return
    for flag in ENCODER_OPTIONS:
        assert option_named(command, flag) is not None, f"{name} lacks {flag}"


def test_exemptions_name_real_model_commands() -> None:
    for name in NO_ENCODER_OPTIONS:
        assert option_named(ALL[name], "--model") is not None


@pytest.mark.parametrize(
    ("command", "alias", "canonical"),
    [(c, a, n) for c, aliases in LEGACY_ALIASES.items() for a, n in aliases.items()],
)
def test_legacy_aliases_are_hidden_and_parse_as_the_canonical_option(
    command: str, alias: str, canonical: str
) -> None:
    cmd = ALL[command]
    option = option_named(cmd, canonical)
    assert option is not None and alias in names(option)
    ctx = cmd.make_context(command, [alias, "7"], resilient_parsing=True)
    value = ctx.params[option.name]
    assert value in (7, "7", ["7"]), value
    page = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert canonical in page
    shown = {word.strip(",") for line in page.splitlines() for word in line.split()}
    assert alias not in shown, f"{command} --help shows {alias}"


@pytest.mark.parametrize("name", sorted(ALL))
def test_help_has_no_bool_placeholder(name: str) -> None:
    result = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout and "BOOLEAN" not in result.stdout


def test_root_help_and_version() -> None:
    assert "<bool>" not in runner.invoke(app, ["-h"]).stdout
    assert runner.invoke(app, ["--version"]).stdout.startswith("embedstack ")


# -- the aliases do what they did ---------------------------------------------------------

DOC = "# Loans\n\n" + " ".join(f"Sentence number {i} is about borrowing books." for i in range(40))


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(DOC, encoding="utf-8")
    return path


def test_chunk_old_and_new_spellings_agree(doc: Path) -> None:
    new = runner.invoke(
        app, ["chunk", str(doc), "-m", "minilm", "--chunk-tokens", "32", "--chunk-overlap", "4",
              "--json"],
    )  # fmt: skip
    old = runner.invoke(
        app, ["chunk", str(doc), "--model", "minilm", "--max-tokens", "32", "--overlap", "4",
              "--json"],
    )  # fmt: skip
    assert new.exit_code == 0 and old.exit_code == 0, new.output + old.output
    chunks = json.loads(new.stdout)
    assert len(chunks) > 3 and max(c["tokens"] for c in chunks) <= 32
    assert json.loads(old.stdout) == chunks


def test_cluster_count_old_and_new_spellings(tmp_path: Path) -> None:
    rows = [{"id": f"d{i}", "text": f"topic {i % 3} text number {i}"} for i in range(12)]
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    made = runner.invoke(app, ["index", str(data), "--into", str(tmp_path / "c.es"), "-m", "hash"])
    assert made.exit_code == 0, made.output
    for flag in ("--clusters", "--k"):
        result = runner.invoke(
            app, ["cluster", "--in", str(tmp_path / "c.es"), flag, "3", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)["clusters"]) == 3


def test_k_means_results_on_retrieve_and_faq_ask(tmp_path: Path, doc: Path) -> None:
    into = tmp_path / "docs.es"
    made = runner.invoke(app, ["chunk", str(doc), "--chunk-tokens", "24", "--into", str(into)])
    assert made.exit_code == 0, made.output
    for flag in ("-k", "--k"):
        result = runner.invoke(
            app, ["retrieve", "borrowing", "--in", str(into), flag, "2", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)) == 2
