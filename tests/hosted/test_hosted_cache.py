"""The cache in front of a hosted API: re-runs cost nothing, interrupted corpora resume."""

import asyncio

import numpy as np
import pytest

from embedstack.encoders.cache import CachedEncoder, EmbeddingCache
from embedstack.errors import ProviderError


def test_cache_prevents_re_embedding(make, api, tmp_path):
    texts = [f"passage {i}" for i in range(12)]
    encoder = make("openai", "text-embedding-3-small", dimensions=8, cache=tmp_path / "c.db")
    assert isinstance(encoder, CachedEncoder)
    first = encoder.encode(texts)
    calls = len(api.calls)
    assert calls == 1 and sorted(api.texts_sent()) == sorted(texts)
    again = make("openai", "text-embedding-3-small", dimensions=8, cache=tmp_path / "c.db")
    np.testing.assert_array_equal(again.encode(texts), first)
    assert len(api.calls) == calls  # the server was not called again
    stats = again.cache.stats()
    assert stats.hits == 12 and stats.misses == 0 and stats.entries == 12
    again.encode(texts, kind="query")  # the query side is another key
    assert len(api.calls) == calls + 1
    assert again.usage.texts == 12  # usage of the wrapped encoder is reachable


def test_interrupted_corpus_resumes_and_embeds_each_text_once(make, api, tmp_path):
    cache = EmbeddingCache(tmp_path / "c.db")
    texts = [f"chunk {i}" for i in range(10)]
    api.then(("ok",), ("ok",), ("status", 400, {"message": "quota exceeded for today"}))
    first = make("cohere", "embed-v4.0", dimensions=8, batch_size=2, concurrency=1, cache=cache)
    with pytest.raises(ProviderError, match="quota exceeded"):
        first.encode(texts)
    assert cache.stats().entries == 4
    sent_before = api.texts_sent()
    resumed = make("cohere", "embed-v4.0", dimensions=8, batch_size=2, cache=cache)
    out = resumed.encode(texts)
    resent = api.texts_sent()[len(sent_before) :]
    # the two finished requests are never paid again; everything else is sent once
    assert sorted(sent_before[:4] + resent) == sorted(texts)
    plain = make("cohere", "embed-v4.0", dimensions=8)
    np.testing.assert_allclose(out, plain.encode(texts), rtol=1e-6)


def test_cache_disabled_calls_every_time(make, api):
    encoder = make("voyage", "voyage-3.5", dimensions=8, cache=False)
    encoder.encode(["x"])
    encoder.encode(["x"])
    assert len(api.calls) == 2


def test_async_cached_encode(make, api, tmp_path):
    encoder = make("jina", "jina-embeddings-v3", dimensions=8, batch_size=3, cache=tmp_path / "a")
    texts = [f"t {i}" for i in range(7)]
    out = asyncio.run(encoder.aencode(texts, kind="query"))
    assert len(api.calls) == 3
    again = asyncio.run(encoder.aencode(texts, kind="query"))
    assert len(api.calls) == 3
    np.testing.assert_array_equal(out, again)
