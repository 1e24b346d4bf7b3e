"""Each provider sends exactly its documented request and reads its documented response."""

import asyncio

import numpy as np
import pytest
from fake_apis import KEY, fake_vector

from embedstack.encoders.cache import CachedEncoder
from embedstack.encoders.hosted import HostedEncoder
from embedstack.errors import InputError
from embedstack.registry import load_encoder

TEXTS = ["hello world", "second text"]

# provider, model, extra options, path, auth header, body for kind=query
CASES = [
    (
        "openai",
        "text-embedding-3-small",
        {},
        "/openai/v1/embeddings",
        ("authorization", f"Bearer {KEY}"),
        {
            "model": "text-embedding-3-small",
            "input": TEXTS,
            "encoding_format": "base64",
            "dimensions": 8,
        },
    ),
    (
        "azure",
        "my-deployment",
        {"model": "text-embedding-3-large", "api_version": "2024-10-21"},
        "/azure/openai/deployments/my-deployment/embeddings",
        ("api-key", KEY),
        {"input": TEXTS, "encoding_format": "base64", "dimensions": 8},
    ),
    (
        "cohere",
        "embed-v4.0",
        {},
        "/cohere/v2/embed",
        ("authorization", f"Bearer {KEY}"),
        {
            "model": "embed-v4.0",
            "texts": TEXTS,
            "input_type": "search_query",
            "embedding_types": ["float"],
            "truncate": "NONE",
            "output_dimension": 8,
        },
    ),
    (
        "voyage",
        "voyage-3.5",
        {},
        "/voyage/v1/embeddings",
        ("authorization", f"Bearer {KEY}"),
        {
            "model": "voyage-3.5",
            "input": TEXTS,
            "input_type": "query",
            "truncation": False,
            "output_dtype": "float",
            "output_dimension": 8,
        },
    ),
    (
        "gemini",
        "gemini-embedding-001",
        {},
        "/gemini/v1beta/models/gemini-embedding-001:batchEmbedContents",
        ("x-goog-api-key", KEY),
        {
            "requests": [
                {
                    "model": "models/gemini-embedding-001",
                    "content": {"parts": [{"text": t}]},
                    "taskType": "RETRIEVAL_QUERY",
                    "outputDimensionality": 8,
                }
                for t in TEXTS
            ]
        },
    ),
    (
        "jina",
        "jina-embeddings-v3",
        {},
        "/jina/v1/embeddings",
        ("authorization", f"Bearer {KEY}"),
        {
            "model": "jina-embeddings-v3",
            "input": TEXTS,
            "embedding_type": "float",
            "truncate": False,
            "task": "retrieval.query",
            "dimensions": 8,
        },
    ),
    (
        "mistral",
        "codestral-embed",
        {},
        "/mistral/v1/embeddings",
        ("authorization", f"Bearer {KEY}"),
        {
            "model": "codestral-embed",
            "input": TEXTS,
            "output_dtype": "float",
            "output_dimension": 8,
        },
    ),
    (
        "ollama",
        "nomic-embed-text",
        {},
        "/ollama/api/embed",
        None,
        {
            "model": "nomic-embed-text",
            "input": [f"search_query: {t}" for t in TEXTS],
            "truncate": False,
            "dimensions": 8,
        },
    ),
    (
        "tei",
        "BAAI/bge-small-en-v1.5",
        {"query_prompt": "query"},
        "/tei/embed",
        None,
        {"inputs": TEXTS, "truncate": False, "normalize": True, "prompt_name": "query"},
    ),
]

DOCUMENT_TYPES = {
    "cohere": ("input_type", "search_document"),
    "voyage": ("input_type", "document"),
    "jina": ("task", "retrieval.passage"),
}


@pytest.mark.parametrize("provider,model,options,path,auth,body", CASES, ids=[c[0] for c in CASES])
def test_exact_request_and_decoded_response(make, api, provider, model, options, path, auth, body):
    encoder = make(provider, model, dimensions=8, **options)
    vectors = encoder.encode(TEXTS, kind="query", normalize=False)
    (call,) = api.calls
    assert call.path == path
    assert call.body == body
    if auth:
        assert call.headers[auth[0]] == auth[1]
    else:
        assert "authorization" not in call.headers
    sent = call.texts
    expected = np.stack([fake_vector(t, 8) for t in sent])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_document_side_uses_the_provider_document_type(make, api):
    for provider, (field, value) in DOCUMENT_TYPES.items():
        model = {"cohere": "embed-v4.0", "voyage": "voyage-3.5", "jina": "jina-embeddings-v3"}
        make(provider, model[provider], dimensions=8).encode(TEXTS, kind="document")
        assert api.calls[-1].body[field] == value
    make("gemini", "gemini-embedding-001", dimensions=8).encode(TEXTS, kind="document")
    assert {r["taskType"] for r in api.calls[-1].body["requests"]} == {"RETRIEVAL_DOCUMENT"}
    make("ollama", "nomic-embed-text", dimensions=8).encode(TEXTS, kind="document")
    assert api.calls[-1].body["input"][0] == "search_document: hello world"


def test_jina_v2_models_get_no_task_and_tei_without_prompts_no_prompt_name(make, api):
    make("jina", "jina-embeddings-v2-base-en", dimensions=768).encode(["x"], kind="query")
    assert "task" not in api.calls[-1].body and "dimensions" not in api.calls[-1].body
    make("tei", "some-model", dimensions=8).encode(["x"], kind="query")
    assert "prompt_name" not in api.calls[-1].body


def test_space_records_provider_model_dimensions_and_input_types(make):
    space = make("cohere", "embed-v4.0", dimensions=8).space
    extra = dict(space.extra)
    assert space.model == "cohere:embed-v4.0" and space.dim == 8
    assert extra["provider"] == "cohere" and extra["dimensions"] == "8"
    assert extra["input_type.query"] == "search_query"
    assert extra["input_type.document"] == "search_document"
    assert make("cohere", "embed-v4.0", dimensions=16).space.key() != space.key()
    ollama = make("ollama", "nomic-embed-text", dimensions=8).space
    assert ollama.query_prefix == "search_query: " and ollama.max_tokens == 2048


def test_batches_respect_input_and_token_limits(make, api):
    make("cohere", "embed-v4.0", dimensions=8).encode([f"t{i}" for i in range(200)])
    assert sorted(len(c.texts) for c in api.calls) == [8, 96, 96]
    api.reset()
    # mistral: 16,384 tokens per request; each text is ~6,000 estimated tokens
    big = ["word " * 3600 + str(i) for i in range(5)]
    make("mistral", "mistral-embed", concurrency=1).encode(big)
    assert [len(c.texts) for c in api.calls] == [2, 2, 1]  # concurrency=1: in order
    api.reset()
    make("openai", "text-embedding-3-small", dimensions=8).encode(
        [f"t{i}" for i in range(10)], batch_size=4
    )
    assert sorted(len(c.texts) for c in api.calls) == [2, 4, 4]


def test_concurrent_batches_come_back_in_input_order(make, api):
    texts = [f"text number {i}" for i in range(50)]
    encoder = make("voyage", "voyage-3.5", dimensions=8, batch_size=5, concurrency=4)
    out = encoder.encode(texts, normalize=False)
    np.testing.assert_allclose(out, np.stack([fake_vector(t, 8) for t in texts]), rtol=1e-6)
    assert len(api.calls) == 10 and encoder.usage.requests == 10


def test_async_path_matches_sync(make, api):
    texts = [f"async text {i}" for i in range(23)]
    encoder = make("gemini", "gemini-embedding-001", dimensions=8, batch_size=5, concurrency=3)
    out = asyncio.run(encoder.aencode(texts, kind="query"))
    assert len(api.calls) == 5
    np.testing.assert_allclose(out, encoder.encode(texts, kind="query"), rtol=1e-6)


def test_usage_counts_billed_tokens_or_estimates(make):
    openai = make("openai", "text-embedding-3-small", dimensions=8)
    openai.encode(["one two three", "four"])
    assert openai.usage.tokens == 4 and openai.usage.estimated_tokens == 0
    assert openai.usage.requests == 1 and openai.usage.texts == 2
    gemini = make("gemini", "gemini-embedding-001", dimensions=8)
    gemini.encode(["one two three"])  # Gemini reports no usage: our estimate is kept
    assert gemini.usage.tokens == gemini.usage.estimated_tokens > 0


def test_unknown_model_dimension_is_probed_once(make, api):
    encoder = make("tei", "my-org/my-model")
    assert encoder.dim == 8 and len(api.calls) == 1
    assert api.calls[0].body["inputs"] == ["dimension probe"]


def test_fixed_dimension_models_refuse_dimensions(make):
    with pytest.raises(InputError, match="always returns 1536-d"):
        make("openai", "text-embedding-ada-002", dimensions=256)


def test_empty_texts_are_refused_before_any_request(make, api):
    with pytest.raises(InputError, match=r"empty texts \(indices 1\)"):
        make("openai", "text-embedding-3-small", dimensions=8).encode(["ok", "  "])
    assert api.calls == []


def test_registry_spec_dispatches_and_caches_by_default(api, tmp_path, monkeypatch):
    from fake_apis import base_url

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", base_url(api, "openai"))
    encoder = load_encoder("openai:text-embedding-3-small", dimensions=8)
    assert isinstance(encoder, CachedEncoder)
    assert isinstance(encoder.encoder, HostedEncoder)
    assert encoder.cache.path.is_relative_to(tmp_path / "home")
    encoder.encode(["via the registry"])
    assert api.calls[0].path == "/openai/v1/embeddings"


def test_ollama_host_forms(api, monkeypatch):
    from embedstack.encoders.hosted.ollama import _host

    assert _host("0.0.0.0") == "http://127.0.0.1:11434"
    assert _host("example.internal:9000") == "http://example.internal:9000"
    assert _host("https://ollama.example") == "https://ollama.example:443"
    port = api.url.rsplit(":", 1)[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}/ollama")
    encoder = load_encoder("ollama:all-minilm", dimensions=384, cache=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    encoder.encode(["from OLLAMA_HOST"])
    assert api.calls[-1].path == "/ollama/api/embed"
    assert "authorization" not in api.calls[-1].headers  # local Ollama: no key
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-key")  # read like the official client
    load_encoder("ollama:all-minilm", dimensions=384, cache=False).encode(["hosted"])
    assert api.calls[-1].headers["authorization"] == "Bearer ollama-key"


def test_rate_limits_pace_requests(make, api, sleeps):
    frozen = [0.0]
    encoder = make(
        "openai",
        "text-embedding-3-small",
        dimensions=8,
        batch_size=1,
        concurrency=1,
        rpm=1,
        tpm=None,
        clock=lambda: frozen[0],
    )
    encoder.encode(["a", "b", "c"])
    assert sleeps == [pytest.approx(60.0), pytest.approx(120.0)]  # 1 request per minute
    sleeps.clear()
    by_tokens = make(
        "mistral",
        "codestral-embed",
        dimensions=8,
        batch_size=1,
        concurrency=1,
        tpm=10,
        clock=lambda: frozen[0],
    )
    by_tokens.encode(["x" * 15, "y" * 15, "z" * 15])  # 5 estimated tokens each
    assert sleeps == [pytest.approx(30.0)]  # the third needs 5 more of 10 tokens/minute
    assert encoder.usage.requests == 3


def test_dimension_suffix_in_the_spec_round_trips(api, monkeypatch):
    from fake_apis import base_url

    monkeypatch.setenv("VOYAGE_API_KEY", KEY)
    monkeypatch.setenv("EMBEDSTACK_VOYAGE_BASE_URL", base_url(api, "voyage"))
    encoder = load_encoder("voyage:voyage-3.5@8")
    assert encoder.dim == 8 and encoder.spec == "voyage:voyage-3.5@8"
    assert load_encoder(encoder.spec).space == encoder.space
    assert load_encoder("voyage:voyage-3.5").spec == "voyage:voyage-3.5"
    with pytest.raises(InputError, match="must be a dimension"):
        load_encoder("voyage:voyage-3.5@big")
    with pytest.raises(InputError, match="conflicts with dimensions=16"):
        load_encoder("voyage:voyage-3.5@8", dimensions=16)


def test_voyage_packs_batches_by_each_models_documented_token_limit(make):
    """Voyage's reference: 1M tokens per request for the lite models, 320K for
    voyage-3.5, 120K for voyage-3-large; max_batch_tokens can only tighten it."""
    assert make("voyage", "voyage-3.5-lite", dimensions=8).batch_tokens == 1_000_000
    assert make("voyage", "voyage-3.5", dimensions=8).batch_tokens == 320_000
    assert make("voyage", "voyage-3-large", dimensions=8).batch_tokens == 120_000
    assert make("voyage", "voyage-future", dimensions=8).batch_tokens == 120_000
    tight = make("voyage", "voyage-3.5-lite", dimensions=8, max_batch_tokens=10)
    assert tight.batch_tokens == 10
    assert tight.batch_inputs == 1000


@pytest.mark.parametrize(
    ("provider", "model", "variable"),
    [
        ("voyage", "voyage-3.5", "EMBEDSTACK_VOYAGE_BASE_URL"),
        ("jina", "jina-embeddings-v3", "EMBEDSTACK_JINA_BASE_URL"),
        ("mistral", "codestral-embed", "EMBEDSTACK_MISTRAL_BASE_URL"),
        ("tei", "BAAI/bge-small-en-v1.5", "EMBEDSTACK_TEI_BASE_URL"),
        ("cohere", "embed-v4.0", "CO_API_URL"),
        ("gemini", "gemini-embedding-001", "GOOGLE_GEMINI_BASE_URL"),
    ],
)
def test_base_url_from_the_documented_variable(api, monkeypatch, provider, model, variable):
    """Official clients' variables where they exist; EMBEDSTACK_<PROVIDER>_BASE_URL where
    the provider's client reads none (the old invented VOYAGE_BASE_URL etc. are ignored)."""
    from fake_apis import base_url

    from embedstack.encoders.hosted import load_hosted

    monkeypatch.setenv(variable, base_url(api, provider))
    invented = f"{provider.upper()}_BASE_URL"
    if invented != variable:
        monkeypatch.setenv(invented, "http://127.0.0.1:9/never")
    encoder = load_hosted(provider, model, api_key=KEY, cache=False, max_retries=0, dimensions=8)
    assert encoder.base_url == base_url(api, provider)
    encoder.encode(["hello"])
    assert api.calls[-1].provider == provider


def test_jina_v4_sends_at_most_512_inputs_per_request(make, api):
    """The API rejects v4 lists over 512 items ("Each input list can contain at most 512
    items"); other Jina models take 2048."""
    assert make("jina", "jina-embeddings-v3", dimensions=8).batch_inputs == 2048
    encoder = make("jina", "jina-embeddings-v4", dimensions=8, concurrency=1)
    assert encoder.batch_inputs == 512
    encoder.encode([f"t{i}" for i in range(600)], batch_size=2048)
    assert sorted(len(c.texts) for c in api.calls) == [88, 512]
