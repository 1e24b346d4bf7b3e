"""The one CLI progress renderer: bars with totals on a terminal, plain lines off it,
silenced by --quiet; and the commands that use it (index, eval, model conversion)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.cli.progress_view import BarProgress, PlainProgress, progress_view
from embedstack.progress import report_ambient

EVAL_DATA = Path(__file__).resolve().parents[1] / "data" / "eval" / "beir_tiny"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    monkeypatch.delenv("EMBEDSTACK_QUIET", raising=False)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain_lines(events, clock=None):
    out = io.StringIO()
    view = PlainProgress(Console(file=out, width=200), clock=clock or Clock())
    for stage, done, total, *advance in events:
        if advance and isinstance(view.clock, Clock):
            view.clock.now += advance[0]
        view(stage, done, total)
    return out.getvalue().splitlines()


def test_plain_lines_give_counts_rate_eta_and_end():
    events = [("embedding", 0, 1000, 0)]
    events += [("embedding", n, 1000, 1) for n in range(10, 1001, 10)]  # 100 reports, 1 s apart
    lines = plain_lines(events)
    assert lines[0] == "embedding: 0/1,000 (0%)"
    # a line per tenth of the work (or 5 s), not one per report
    assert 10 <= len(lines) <= 25, lines
    assert any("/s, ETA" in line for line in lines)
    middle = next(line for line in lines if line.startswith("embedding: 500/1,000"))
    assert middle == "embedding: 500/1,000 (50%), 10.0/s, ETA 50s"
    assert lines[-1] == "embedding: 1,000/1,000 (100%), done in 1m40s"


def test_plain_lines_are_due_every_interval_even_without_a_tenth():
    events = [("read", 0, 10_000, 0), ("read", 1, 10_000, 6), ("read", 2, 10_000, 1)]
    lines = plain_lines(events)
    assert [line.split(",")[0] for line in lines] == ["read: 0/10", "read: 1/10"]


def test_notices_print_once_and_markup_is_literal():
    lines = plain_lines([("waiting for [bold]pid 7", 0, None)] * 3)
    assert lines == ["waiting for [bold]pid 7 ..."]


def test_terminal_bar_has_the_total_from_the_first_report():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with progress_view(console) as view:
        assert isinstance(view, BarProgress)
        view("embedding", 0, 40)
        task = view.bar.tasks[0]
        assert (task.total, task.completed) == (40, 0)  # not 0/? before the first batch
        view("embedding", 20, 40)
        view.bar.refresh()
        assert "20/40" in out.getvalue()
        report_ambient("converting the model to ONNX (one-off)", 1, 2)  # deep in the library
        assert [t.total for t in view.bar.tasks] == [40, 2]


def test_quiet_and_disabled_give_no_callback():
    console = Console(file=io.StringIO(), force_terminal=True)
    with progress_view(console, quiet=True) as view:
        assert view is None
    with progress_view(console, enabled=False) as view:
        assert view is None
    report_ambient("nothing listens", 1, 1)  # no reporter installed: a no-op


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def notes(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    rows = [{"id": f"r{i}", "text": f"row number {i} about tea and keys"} for i in range(30)]
    (root / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def test_index_prints_plain_progress_off_a_terminal(notes, tmp_path):
    result = run("index", notes, "--into", tmp_path / "c.es")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "embedding: 0/30 (0%)"  # the total is known before the first batch
    assert lines[-1].startswith("embedding: 30/30 (100%), done in")
    assert "indexed 30 documents" in result.stdout


@pytest.mark.parametrize("where", ["global", "command"])
def test_quiet_silences_progress(notes, tmp_path, where):
    args = ["index", notes, "--into", tmp_path / "c.es"]
    args = ["--quiet", *args] if where == "global" else [*args, "--quiet"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "indexed 30 documents" in result.stdout


def test_eval_prints_corpus_embedding_and_search_progress():
    result = run("eval", EVAL_DATA, "--model", "hash")
    assert result.exit_code == 0, result.output
    assert "embedding documents: 0/12 (0%)" in result.stderr
    assert "embedding documents: 12/12 (100%)" in result.stderr
    assert "searching: 6/6 (100%)" in result.stderr
    quiet = run("-q", "eval", EVAL_DATA, "--model", "hash")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_first_model_conversion_reports_its_steps(notes, tmp_path):
    from tiny_models import make_numpy_bert

    model = make_numpy_bert(tmp_path / "bert")
    result = run("index", notes, "--into", tmp_path / "c.es", "--model", model)
    assert result.exit_code == 0, result.output
    assert "converting the model to ONNX (one-off): 0/2 (0%)" in result.stderr
    assert "converting the model to ONNX (one-off): 2/2 (100%)" in result.stderr
    again = run("index", notes, "--into", tmp_path / "d.es", "--model", model)
    assert "converting" not in again.stderr  # cached: converted once


def test_a_stage_that_starts_over_prints_again():
    events = [("searching", 0, 6), ("searching", 6, 6), ("searching", 0, 6), ("searching", 6, 6)]
    lines = plain_lines(events)
    assert [line.split(",")[0] for line in lines] == [
        "searching: 0/6 (0%)",
        "searching: 6/6 (100%)",
        "searching: 0/6 (0%)",
        "searching: 6/6 (100%)",
    ]
    console = Console(file=io.StringIO(), force_terminal=True)
    with progress_view(console) as view:
        for event in events[:3]:
            view(*event)
        assert view.bar.tasks[0].completed == 0  # reset, not stuck at 6/6


def test_first_int8_quantisation_reports_its_steps(tmp_path, monkeypatch):
    from tiny_models import make_numpy_bert

    from embedstack.progress import reporting
    from embedstack.registry import load_encoder

    model = make_numpy_bert(tmp_path / "bert")
    seen = []
    with reporting(lambda stage, done, total: seen.append((stage, done, total))):
        load_encoder(str(model), precision="int8")
    int8 = [(d, t) for s, d, t in seen if s == "converting the model to int8 ONNX (one-off)"]
    assert int8[:3] == [(0, 3), (1, 3), (2, 3)]  # converted, fused, quantising
    assert seen, "nothing reported"


def test_embed_dedup_and_faq_build_print_progress(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"text number {i} about tea" for i in range(20)) + "\n")
    embedded = run("embed", "--file", texts)
    assert embedded.exit_code == 0, embedded.output
    assert "embedding: 20/20 (100%)" in embedded.stderr

    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps({"text": f"row {i % 5} tea"}) for i in range(10)) + "\n")
    dedup = run("dedup", rows, "--threshold", "0.99")
    assert dedup.exit_code == 0, dedup.output
    assert "embedding: 10/10 (100%)" in dedup.stderr
    assert "near duplicates: 10/10 (100%)" in dedup.stderr
    assert run("--quiet", "dedup", rows, "--threshold", "0.99").stderr == ""

    faq = tmp_path / "faq.csv"
    pairs = [(f"question {i} about opening hours?", f"answer {i}") for i in range(12)]
    faq.write_text("question,answer\n" + "\n".join(f"{q},{a}" for q, a in pairs) + "\n")
    built = run("faq", "build", faq, "--into", tmp_path / "f", "--threshold", "0.5")
    assert built.exit_code == 0, built.output
    assert "embedding: 12/12 (100%)" in built.stderr
