"""CLI: `embed --dry-run` prices a corpus without calling anything; hosted `embed` shows
usage and cache stats; `cache stats/clear`. Uses the command modules directly so the test
does not depend on every other command group being present."""

import json

import typer
from fake_apis import KEY, base_url
from typer.testing import CliRunner

from embedstack.cli import cache as cache_cli
from embedstack.cli import embed as embed_cli
from embedstack.errors import InputError


def cli() -> typer.Typer:
    app = typer.Typer()
    embed_cli.register(app)
    cache_cli.register(app)
    return app


def test_dry_run_estimates_from_a_file_without_calling(api, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("first line of text\n\nsecond line\nfirst line of text\n")
    args = ["embed", "--model", "openai:text-embedding-3-small", "--dry-run", str(corpus)]
    result = CliRunner().invoke(cli(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert estimate["texts"] == 3 and estimate["to_embed"] == 2 and estimate["requests"] == 1
    assert estimate["exact_tokens"] is True and estimate["tokens"] == 6
    assert estimate["usd"] == 6 * 0.02 / 1e6
    text = CliRunner().invoke(cli(), args)
    assert "6 tokens (exact (tiktoken)) in 1 requests" in text.stdout
    assert api.calls == []


def test_dry_run_needs_a_hosted_model(tmp_path):
    result = CliRunner().invoke(cli(), ["embed", "--dry-run", "some text"])
    assert isinstance(result.exception, InputError)
    assert "hosted --model" in str(result.exception)


def test_dry_run_price_file_override(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"per_million_tokens": {"voyage:voyage-3.5": 2.0}}))
    args = ["embed", "-m", "voyage:voyage-3.5", "--dry-run", "--prices", str(prices), "a b c"]
    result = CliRunner().invoke(cli(), [*args, "--json"])
    assert json.loads(result.stdout)["usd_per_million"] == 2.0


def test_hosted_embed_prints_usage_and_cache_stats(api, monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", KEY)
    monkeypatch.setenv("CO_API_URL", base_url(api, "cohere"))
    args = ["embed", "-m", "cohere:embed-english-light-v3.0", "--json", "one", "two"]
    api.default_dim = 384  # the fake answers with this fixed-size model's native size
    try:
        first = CliRunner().invoke(cli(), args)
        second = CliRunner().invoke(cli(), args)
    finally:
        api.default_dim = 8
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["dim"] == 384
    assert "cache: 0 hits, 2 misses" in first.stderr
    assert "cache: 2 hits, 0 misses" in second.stderr
    assert len(api.calls) == 1
    stats = CliRunner().invoke(cli(), ["cache", "stats", "--json"])
    assert json.loads(stats.stdout)["entries"] == 2
    cleared = CliRunner().invoke(cli(), ["cache", "clear", "--yes"])
    assert "removed 2" in cleared.stdout
