"""One `VectorCache` API, two backends (SQLite, `.npy` shards) behind `CachedEncoder`."""

from __future__ import annotations

import numpy as np
import pytest

from embedstack.encoders.cache import (
    CachedEncoder,
    ShardVectorCache,
    SqliteVectorCache,
    VectorCache,
    open_cache,
)
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.text.tokenize import WordTokenizer, tokenizer_for
from embedstack.types import Kind
from test_cache import CountingEncoder


def _backends(tmp_path) -> list[VectorCache]:
    return [SqliteVectorCache(tmp_path / "c.sqlite"), ShardVectorCache(tmp_path / "shards")]


@pytest.mark.parametrize("which", [0, 1])
def test_both_backends_keep_the_same_contract(tmp_path, which):
    cache = _backends(tmp_path)[which]
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache.put_many("k", "document", ["x", "y"], vecs)
    got = cache.get_many("k", Kind.DOCUMENT, ["y", "z", "x"])
    np.testing.assert_array_equal(got[0], vecs[1])
    assert got[1] is None
    np.testing.assert_array_equal(got[2], vecs[0])
    assert cache.get_many("k", "query", ["x"]) == [None]
    assert cache.get_many("other", "document", ["x"]) == [None]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.entries) == (2, 3, 2, 2)
    with pytest.raises(InputError, match="NaN"):
        cache.put_many("k", "query", ["a"], np.array([[np.nan, 1, 2]], np.float32))
    reopened = type(cache)(cache.path)  # persisted, read by a fresh object (no memory)
    np.testing.assert_array_equal(reopened.get_many("k", "document", ["x"])[0], vecs[0])
    assert reopened.clear("other") == 0 and reopened.clear() == 2
    assert type(cache)(cache.path).get_many("k", "document", ["x"]) == [None]


def test_shards_are_plain_numpy_files_written_per_chunk(tmp_path):
    cache = ShardVectorCache(tmp_path)
    enc = CachedEncoder(HashEncoder(16), cache, chunk_size=2)
    enc.encode([f"text {i}" for i in range(5)])
    folder = next(tmp_path.glob("v2-*-document"))
    assert len(list(folder.glob("*.keys.npy"))) == 3  # 2 + 2 + 1: one shard per chunk
    vectors = np.concatenate([np.load(p) for p in sorted(folder.glob("*[0-9a-f].npy"))])
    assert vectors.shape == (5, 16) and vectors.dtype == np.float32
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # raw, not normalised
    assert cache.stats().entries == 5


def test_a_damaged_shard_is_skipped_and_re_embedded(tmp_path):
    cache = ShardVectorCache(tmp_path)
    CachedEncoder(HashEncoder(8), cache).encode(["alpha", "beta"])
    keys = next(tmp_path.glob("v2-*/*.keys.npy"))
    keys.write_bytes(b"not numpy")
    inner = CountingEncoder(8)
    out = CachedEncoder(inner, ShardVectorCache(tmp_path)).encode(["alpha", "beta"])
    assert sorted(inner.seen) == ["alpha", "beta"]
    np.testing.assert_allclose(out, HashEncoder(8).encode(["alpha", "beta"]), atol=1e-6)


def test_interrupted_run_on_shards_resumes(tmp_path):
    texts = [f"document number {i}" for i in range(10)]
    crashing = CountingEncoder(fail_after=4)
    with pytest.raises(EmbedstackError, match="simulated crash"):
        CachedEncoder(crashing, ShardVectorCache(tmp_path), chunk_size=2).encode(texts)
    resumed = CountingEncoder()
    CachedEncoder(resumed, ShardVectorCache(tmp_path), chunk_size=2).encode(texts)
    assert sorted(crashing.seen + resumed.seen) == sorted(texts)


def test_open_cache_picks_the_backend(tmp_path):
    assert isinstance(open_cache(tmp_path / "x.sqlite"), SqliteVectorCache)
    assert isinstance(open_cache(tmp_path / "x.db"), SqliteVectorCache)
    assert isinstance(open_cache(tmp_path / "vectors"), ShardVectorCache)
    (tmp_path / "existing").mkdir()
    assert isinstance(open_cache(tmp_path / "existing"), ShardVectorCache)
    mine = ShardVectorCache(tmp_path / "s")
    assert open_cache(mine) is mine
    with pytest.raises(InputError):
        open_cache(False)


def test_no_vector_is_stored_twice(tmp_path):
    inner = SqliteVectorCache(tmp_path / "inner.sqlite")
    outer = ShardVectorCache(tmp_path / "outer")
    enc = CachedEncoder(CachedEncoder(HashEncoder(8), inner), outer)
    assert isinstance(enc.encoder, HashEncoder)  # the inner cache was unwrapped
    enc.encode(["a text"])
    assert (inner.stats().entries, outer.stats().entries) == (0, 1)


def test_load_encoder_takes_a_shard_folder_or_a_cache_object(tmp_path):
    from embedstack.registry import load_encoder

    by_path = load_encoder("hash:16", cache=tmp_path / "shards")
    assert isinstance(by_path.cache, ShardVectorCache)
    by_path.encode(["one", "two"])
    store = ShardVectorCache(tmp_path / "shards")
    again = load_encoder("hash:16", cache=store)
    assert again.cache is store
    again.encode(["one", "two"])
    assert store.stats().hits == 2


def test_cached_encoders_chunk_with_the_wrapped_tokenizer(tmp_path):
    enc = CachedEncoder(HashEncoder(8), SqliteVectorCache(tmp_path / "c.sqlite"))
    assert isinstance(tokenizer_for(enc), WordTokenizer)
    assert enc.count_tokens(["two words"]) == [2] and enc.special_tokens() == 0


def test_cache_command_lists_and_clears_both_stores(tmp_path, monkeypatch):
    import json

    import typer
    from typer.testing import CliRunner

    from embedstack.cli import cache as cache_cli

    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path))
    CachedEncoder(HashEncoder(8), SqliteVectorCache()).encode(["in sqlite"])
    CachedEncoder(HashEncoder(8), ShardVectorCache()).encode(["in shards", "and more"])
    app = typer.Typer()
    cache_cli.register(app)
    app.command("noop")(lambda: None)  # a second command keeps "cache" a sub-command
    stats = json.loads(CliRunner().invoke(app, ["cache", "stats", "--json"]).stdout)
    assert stats["entries"] == 3
    assert {(s["backend"], s["entries"]) for s in stats["stores"]} == {
        ("sqlite", 1),
        ("npy-shards", 2),
    }
    text = CliRunner().invoke(app, ["cache", "stats"]).stdout
    assert "1 cached embeddings" in text and "2 cached embeddings" in text
    one = CliRunner().invoke(app, ["cache", "stats", "--json", "--path", str(tmp_path / "shards")])
    assert json.loads(one.stdout)["entries"] == 2
    cleared = CliRunner().invoke(app, ["cache", "clear", "--yes"])
    assert "removed 3" in cleared.stdout
    assert json.loads(CliRunner().invoke(app, ["cache", "stats", "--json"]).stdout)["entries"] == 0


def test_digests_ending_in_zero_bytes_are_found_again(tmp_path):
    import hashlib

    texts = [
        t
        for t in (f"text {i}" for i in range(5000))
        if hashlib.sha256(t.encode()).digest()[-1] == 0
    ][:3]
    assert texts  # about 1 in 256 digests ends with a zero byte
    vectors = HashEncoder(16).encode(texts)
    ShardVectorCache(tmp_path).put_many("k", "document", texts, vectors)
    found = ShardVectorCache(tmp_path).get_many("k", "document", texts)
    assert all(v is not None for v in found)
    np.testing.assert_allclose(np.stack(found), vectors)
