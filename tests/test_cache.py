import sqlite3
import threading

import numpy as np
import pytest

from embedstack.encoders.cache import CachedEncoder, EmbeddingCache
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.types import Kind


class CountingEncoder(HashEncoder):
    """HashEncoder that records every text it is asked to embed, and can fail on demand."""

    def __init__(self, dim: int = 16, fail_after: int | None = None) -> None:
        super().__init__(dim)
        self.seen: list[str] = []
        self.fail_after = fail_after

    def encode_batch(self, texts, kind):
        if self.fail_after is not None and len(self.seen) + len(texts) > self.fail_after:
            raise EmbedstackError("simulated crash")
        self.seen.extend(texts)
        return super().encode_batch(texts, kind)


def test_roundtrip_keys_by_space_kind_and_text(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache.put_many("space-a", "document", ["x", "y"], vecs)
    got = cache.get_many("space-a", Kind.DOCUMENT, ["y", "z", "x"])
    np.testing.assert_array_equal(got[0], vecs[1])
    assert got[1] is None
    np.testing.assert_array_equal(got[2], vecs[0])
    assert cache.get_many("space-a", "query", ["x"]) == [None]
    assert cache.get_many("space-b", "document", ["x"]) == [None]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.entries) == (2, 3, 2, 2)
    assert stats.to_dict()["hit_rate"] == 0.4


def test_persists_across_reopen_and_uses_wal(tmp_path):
    path = tmp_path / "c.sqlite"
    with EmbeddingCache(path) as cache:
        cache.put_many("s", "query", ["a"], np.ones((1, 4), np.float32))
    with EmbeddingCache(path) as again:
        np.testing.assert_array_equal(again.get_many("s", "query", ["a"])[0], np.ones(4))
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_put_refuses_nan_and_shape_mismatch(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="NaN"):
        cache.put_many("s", "query", ["a"], np.array([[np.nan, 1]], np.float32))
    with pytest.raises(InputError, match="2 texts"):
        cache.put_many("s", "query", ["a", "b"], np.ones((1, 2), np.float32))
    assert cache.stats().entries == 0


def test_corrupt_row_is_a_miss(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path)
    cache.put_many("s", "query", ["a"], np.ones((1, 4), np.float32))
    with cache._db:
        cache._db.execute("UPDATE embeddings SET vector = ?", (b"\x00\x01",))
    assert EmbeddingCache(path).get_many("s", "query", ["a"]) == [None]  # fresh: no memory


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(EmbedstackError, match="newer embedstack"):
        EmbeddingCache(path)


def test_cached_encoder_embeds_only_misses_and_matches_plain(tmp_path):
    inner = CountingEncoder()
    enc = CachedEncoder(inner, EmbeddingCache(tmp_path / "c.sqlite"))
    texts = ["alpha beta", "gamma", "alpha beta", "delta"]
    first = enc.encode(texts, kind="document")
    assert sorted(inner.seen) == ["alpha beta", "delta", "gamma"]  # the duplicate once
    np.testing.assert_allclose(first, HashEncoder(16).encode(texts), atol=1e-6)
    again = enc.encode([*texts, "epsilon"], kind="document")
    assert inner.seen[3:] == ["epsilon"]
    np.testing.assert_allclose(again[:4], first, atol=1e-6)
    raw = enc.encode(["gamma"], normalize=False)
    np.testing.assert_allclose(raw, HashEncoder(16).encode(["gamma"], normalize=False))
    enc.encode(["gamma"], kind="query")  # another kind is another key
    assert inner.seen[-1] == "gamma"
    assert enc.cache.stats().hits >= 5


def test_interrupted_corpus_resumes_and_embeds_each_text_once(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    texts = [f"document number {i}" for i in range(10)]
    crashing = CountingEncoder(fail_after=4)
    with pytest.raises(EmbedstackError, match="simulated crash"):
        CachedEncoder(crashing, cache, chunk_size=2).encode(texts)
    assert cache.stats().entries == 4
    resumed = CountingEncoder()
    out = CachedEncoder(resumed, cache, chunk_size=2).encode(texts)
    assert sorted(crashing.seen + resumed.seen) == sorted(texts)
    np.testing.assert_allclose(out, HashEncoder(16).encode(texts), atol=1e-6)


def test_threads_share_one_cache(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    enc = CachedEncoder(HashEncoder(8), cache)
    errors: list[Exception] = []

    def work(n: int) -> None:
        try:
            enc.encode([f"text {n} {i}" for i in range(20)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache.stats().entries == 80


def test_default_path_is_under_embedstack_home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path))
    cache = EmbeddingCache()
    assert cache.path.parent == tmp_path / "embeddings"


def test_recent_vectors_are_served_from_memory(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite", memory_items=2)
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.put_many("s", Kind.QUERY, ["a", "b", "c"], vectors)  # "a" falls out of memory
    cache._db.execute("DELETE FROM embeddings")  # from here on only memory can answer
    got = cache.get_many("s", Kind.QUERY, ["a", "b", "c"])
    assert got[0] is None
    np.testing.assert_array_equal(np.stack(got[1:]), vectors[1:])
    assert cache.get_many("s", Kind.DOCUMENT, ["b"]) == [None]  # kind is part of the key
    cache.clear()
    assert cache.get_many("s", Kind.QUERY, ["b"]) == [None]


def test_load_encoder_cache_option_wraps_local_encoders(tmp_path):
    from embedstack.registry import load_encoder

    plain = load_encoder("hash:16")
    cached = load_encoder("hash:16", cache=tmp_path / "local.sqlite")
    assert isinstance(cached, CachedEncoder) and not isinstance(plain, CachedEncoder)
    texts = ["one text", "another text"]
    np.testing.assert_array_equal(cached.encode(texts), plain.encode(texts))
    again = load_encoder("hash:16", cache=tmp_path / "local.sqlite")
    again.encode(texts)
    assert again.cache.stats().hits == 2 and again.cache.stats().misses == 0
    assert cached.space == plain.space


def test_a_cache_file_from_before_the_sqlite_helper_is_adopted(tmp_path):
    """Older caches kept their schema version in PRAGMA user_version; the shared SQLite
    helper adopts them, so no cached vector is lost (or paid for again) on upgrade."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE embeddings (space TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL,"
        " dim INTEGER NOT NULL, vector BLOB NOT NULL, created REAL NOT NULL,"
        " PRIMARY KEY (space, kind, hash)) WITHOUT ROWID"
    )
    from embedstack.encoders.cache import text_hash

    row = ("s", "query", text_hash("a"), 2, np.array([1, 2], np.float32).tobytes(), 0.0)
    db.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", row)
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    got = EmbeddingCache(path).get_many("s", "query", ["a"])[0]
    np.testing.assert_array_equal(got, [1, 2])


def test_a_damaged_cache_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EmbedstackError, match="delete the file to start a fresh cache"):
        EmbeddingCache(path)
