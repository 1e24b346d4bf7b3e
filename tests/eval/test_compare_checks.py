"""`compare` checks every setup before any work, and keeps finished setups when a later
one fails; the report says when throughput differences are noise."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from embedstack.errors import InputError
from embedstack.eval import runner
from embedstack.eval.compare import load_configs, run_comparison
from embedstack.eval.report import plottable, write_report
from embedstack.eval.timing import Timing, speed_notes, within_noise

from .conftest import DATA


def _free_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def failing_server() -> Iterator[str]:
    """An HTTP server that accepts connections and answers every request with 500."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom"}}')

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _configs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "setups.toml"
    path.write_text(text)
    return path


def test_every_bad_setup_is_named_before_any_work(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(
        runner.Pipeline, "from_spec", lambda *a, **k: pytest.fail("ran before checking")
    )
    path = _configs(
        tmp_path,
        '[[configs]]\nname = "good"\nmodel = "hash"\n\n'
        '[[configs]]\nname = "no-key"\nmodel = "openai:text-embedding-3-small"\n\n'
        '[[configs]]\nname = "down"\nmodel = "openai:text-embedding-3-small"\n'
        f'encoder = {{ base_url = "http://127.0.0.1:{_free_port()}/v1", api_key = "k" }}\n\n'
        '[[configs]]\nname = "typo"\nmodel = "minilmm"\n\n'
        '[[configs]]\nname = "bad-preset"\nmodel = "hash"\nretriever = "dense+nope"\n',
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["compare", str(DATA / "beir_tiny"), "-c", str(path),
                                      "-o", str(out)])  # fmt: skip
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "4 of 5 setups cannot run" in message
    assert "no-key: no API key for openai" in message and "OPENAI_API_KEY" in message
    assert "down: cannot reach http://127.0.0.1:" in message
    assert "typo: unknown model 'minilmm'" in message
    assert "bad-preset:" in message
    assert "good:" not in message
    assert not out.exists()


def test_unreadable_dataset_is_listed_with_the_setups(tmp_path: Path) -> None:
    configs = load_configs([_configs(tmp_path, 'name = "typo"\nmodel = "minilmm"\n')])
    with pytest.raises(InputError) as caught:
        run_comparison(tmp_path / "missing", configs)
    text = str(caught.value)
    assert "dataset " in text and "missing" in text and "typo: unknown model" in text


def test_a_setup_failing_late_keeps_the_others(
    cli: typer.Typer, tmp_path: Path, failing_server: str
) -> None:
    path = _configs(
        tmp_path,
        '[[configs]]\nname = "first"\nmodel = "hash"\n\n'
        '[[configs]]\nname = "api-500"\nmodel = "openai:text-embedding-3-small"\n'
        f'encoder = {{ base_url = "{failing_server}", api_key = "k", max_retries = 0 }}\n\n'
        '[[configs]]\nname = "after"\nmodel = "hash:64"\n',
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["compare", str(DATA / "beir_tiny"), "-c", str(path), "-o", str(out), "--json"]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    rows = {r["name"]: r for r in data["rows"]}
    assert list(rows) == ["first", "api-500", "after"]
    assert rows["first"]["error"] is None and rows["first"]["quality"] > 0
    assert rows["after"]["error"] is None and rows["after"]["quality"] > 0
    failed = rows["api-500"]
    assert "500" in failed["error"] and failed["quality"] is None and failed["throughput"] is None
    saved = json.loads((out / "results.json").read_text())
    assert [r["error"] is None for r in saved["rows"]] == [True, False, True]
    html = (out / "index.html").read_text()
    assert "api-500</b> failed while running" in html
    assert "1 setup(s) failed while running (api-500)" in " ".join(result.stderr.split())


def test_bm25_is_timed_as_indexing_and_kept_off_the_encode_plot(tmp_path: Path) -> None:
    path = _configs(
        tmp_path,
        '[[configs]]\nname = "dense"\nmodel = "hash"\n\n'
        '[[configs]]\nname = "bm25"\nretriever = "bm25"\n\n'
        '[[configs]]\nname = "small"\nmodel = "hash:32"\n',
    )
    comparison = run_comparison(DATA / "beir_tiny", load_configs([path]))
    rows = {r.name: r for r in comparison.rows}
    assert rows["bm25"].throughput_basis == "index" and rows["bm25"].space is None
    assert rows["bm25"].throughput_note.endswith("(index build)")
    for row in comparison.rows:
        assert len(row.throughput_runs) == 3
        assert row.throughput_low <= row.throughput <= row.throughput_high
    shown = plottable(comparison)
    assert [r.name for r in shown["quality_vs_throughput.png"]] == ["dense", "small"]
    assert [r.name for r in shown["quality_vs_cost.png"]] == ["dense", "bm25", "small"]
    index = write_report(comparison, tmp_path / "out")
    html = index.read_text()
    assert "docs/s median (range)" in html and "(index build)" in html


def test_noise_is_named_not_ranked() -> None:
    fast = Timing([100.0, 120.0, 110.0], 0.01, 5.0, "encode")
    overlapping = Timing([95.0, 105.0, 101.0], 0.01, 5.0, "encode")
    slow = Timing([40.0, 42.0, 44.0], 0.02, 5.0, "encode")
    close = Timing([104.0, 104.5, 104.2], 0.01, 5.0, "encode")  # tight range, 5% off
    assert within_noise(fast, overlapping) and within_noise(fast, close)
    assert not within_noise(fast, slow)
    notes = speed_notes(
        {"fast": fast, "overlap": overlapping, "slow": slow,
         "bm25": Timing([900.0, 950.0, 1000.0], 0.001, 0.0, "index")}
    )  # fmt: skip
    assert notes == {
        "fast": "fastest",
        "overlap": "within noise of fastest",
        "slow": "0.38x fastest",
        "bm25": "only setup (index build)",
    }


def test_compare_table_numbers_do_not_wrap(cli: typer.Typer, tmp_path: Path) -> None:
    path = _configs(
        tmp_path,
        '[[configs]]\nname = "a setup with a rather long descriptive name"\nmodel = "hash"\n\n'
        '[[configs]]\nname = "b"\nmodel = "hash:32"\n',
    )
    result = CliRunner(env={"COLUMNS": "70"}).invoke(
        cli, ["compare", str(DATA / "beir_tiny"), "-c", str(path), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    for row in data["rows"]:
        quality = f"{row['quality']:.4f}"
        cost = f"{row['cost_per_million']:.4f}"
        assert quality in result.stdout and cost in result.stdout, (quality, result.stdout)
