from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from embedstack.errors import InputError
from embedstack.eval.compare import load_configs, run_comparison
from embedstack.eval.report import write_report

from .conftest import DATA

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Collects image sources and fails on mis-nested or unclosed tags."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


ALL_PLOTS = ["quality_vs_throughput.png", "quality_vs_cost.png", "index_memory.png"]


def _check_report(index: Path, plots: list[str] = ALL_PLOTS) -> _Checker:
    text = index.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    assert checker.images == plots
    for name in set(ALL_PLOTS) - set(plots):
        assert not (index.parent / name).exists(), f"{name} drawn with nothing to compare"
    for src in checker.images:
        png = index.parent / src
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
    return checker


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_compare_writes_valid_report(cli: typer.Typer, tmp_path: Path) -> None:
    a = _write(tmp_path / "a.toml", 'name = "hash-256"\nmodel = "hash"\n')
    b = _write(
        tmp_path / "b.toml",
        'name = "hash-64 hosted-priced"\nmodel = "hash:64"\nusd_per_million_tokens = 0.02\n',
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        ["compare", str(DATA / "beir_tiny"), "-c", str(a), "-c", str(b), "-o", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["name"] for r in data["rows"]] == ["hash-256", "hash-64 hosted-priced"]
    hosted = data["rows"][1]
    assert hosted["cost_basis"] == "tokens"
    assert hosted["cost_per_million"] == pytest.approx(hosted["tokens_per_doc"] * 0.02)
    assert data["rows"][0]["cost_basis"] == "cpu"
    assert data["rows"][0]["space"]["fingerprint"] == "blake2b-words+trigrams-v1"
    assert data["environment"]["packages"]["numpy"]
    _check_report(Path(data["report"]))
    html = (out / "index.html").read_text()
    assert "hash-64 hosted-priced" in html and "blake2b-words+trigrams-v1" in html
    assert json.loads((out / "results.json").read_text())["quality_metric"] == "ndcg@10"


def test_pooling_preset_on_sts(tmp_path: Path) -> None:
    configs = load_configs([], preset="pooling", model="hash", cpu_hour_usd=0.1)
    assert [c.name for c in configs] == ["mean", "cls", "max", "last"]
    assert all(c.encoder_options == {"pooling": c.name} and c.model == "hash" for c in configs)
    comparison = run_comparison(DATA / "sts_tiny.tsv", configs[:2])
    assert comparison.kind == "sts" and comparison.quality_metric == "spearman"
    assert comparison.rows[0].quality == comparison.rows[0].metrics["spearman"]
    assert comparison.rows[0].cost_per_million > 0
    # same dimension, same sentences: identical memory bars say nothing, so no such plot
    assert comparison.rows[0].memory_bytes == comparison.rows[1].memory_bytes
    _check_report(write_report(comparison, tmp_path / "sts"), ALL_PLOTS[:2])


def test_one_file_with_several_configs(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "all.toml",
        '[defaults]\nmodel = "hash"\ncpu_hour_usd = 0.2\n\n'
        '[[configs]]\nname = "a"\n\n[[configs]]\nname = "b"\nmodel = "hash:32"\n',
    )
    configs = load_configs([path])
    assert [(c.name, c.model, c.cpu_hour_usd) for c in configs] == [
        ("a", "hash", 0.2),
        ("b", "hash:32", 0.2),
    ]


def test_bad_configs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing to compare"):
        load_configs([])
    with pytest.raises(InputError, match="unknown comparison preset 'nope'"):
        load_configs([], preset="nope")
    bad = _write(tmp_path / "bad.toml", 'name = "x"\npoolng = "cls"\n')
    with pytest.raises(InputError, match=r"unknown keys \['poolng'\]"):
        load_configs([bad])
    twice = _write(tmp_path / "twice.toml", '[[configs]]\nname = "x"\n[[configs]]\nname = "x"\n')
    with pytest.raises(InputError, match="unique"):
        load_configs([twice])
    with pytest.raises(InputError, match="invalid TOML"):
        load_configs([_write(tmp_path / "broken.toml", "name = \n")])


def test_hosted_price_comes_from_the_shipped_table(tmp_path: Path) -> None:
    from embedstack.eval.compare import SetupConfig, token_price

    assert token_price(SetupConfig("local", model="minilm")) is None
    assert token_price(SetupConfig("own", model="minilm", usd_per_million_tokens=1.5)) == 1.5
    assert token_price(SetupConfig("oa", model="openai:text-embedding-3-small")) == 0.02
    assert token_price(SetupConfig("ol", model="ollama:nomic-embed-text")) == 0.0
    with pytest.raises(InputError, match="no price known for openai:made-up"):
        token_price(SetupConfig("x", model="openai:made-up"))


def test_throughput_is_timed_past_an_embedding_cache(tmp_path: Path) -> None:
    from embedstack.encoders.cache import CachedEncoder, EmbeddingCache
    from embedstack.encoders.hashing import HashEncoder
    from embedstack.eval.timing import REPEATS, measure_encoder

    class Counting(HashEncoder):
        seen = 0

        def encode_batch(self, texts, kind):  # type: ignore[no-untyped-def]
            Counting.seen += len(texts)
            return super().encode_batch(texts, kind)

    texts = [f"document number {i}" for i in range(20)]
    cached = CachedEncoder(Counting(32), EmbeddingCache(tmp_path / "c.sqlite"))
    cached.encode(texts)  # everything is in the cache now
    Counting.seen = 0
    timing = measure_encoder(cached, texts, None)
    assert Counting.seen == 8 + REPEATS * 20  # warm-up + every timed pass, really encoded
    assert len(timing.runs) == REPEATS and timing.low <= timing.median <= timing.high
    assert timing.median > 0 and timing.cpu_seconds_per_doc >= 0 and timing.tokens_per_doc == 3
    assert timing.basis == "encode"
