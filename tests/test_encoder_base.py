import numpy as np
import pytest

from embedstack.encoders.base import Encoder
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import EmbedstackError, InputError
from embedstack.registry import load_encoder
from embedstack.types import EmbeddingSpace, Kind


def test_hash_encoder_is_deterministic_and_normalised():
    enc = load_encoder("hash:64")
    a = enc.encode(["the cat sat", "a dog ran", ""])
    b = HashEncoder(64).encode(["the cat sat", "a dog ran", ""])
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(a[:2], axis=1), 1.0, atol=1e-6)
    assert not a[2].any()  # empty text: zero vector, not NaN


def test_empty_list_and_bad_input():
    enc = HashEncoder(8)
    assert enc.encode([]).shape == (0, 8)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        enc.encode(["ok", 3])  # type: ignore[list-item]
    one = enc.encode("one text")  # a single string: one 1-d vector, as sentence-transformers
    assert one.shape == (8,)
    np.testing.assert_array_equal(one, enc.encode(["one text"])[0])


class _Prefixing(Encoder):
    def __init__(self) -> None:
        self.space = EmbeddingSpace(model="t", dim=1, query_prefix="q: ", document_prefix="d: ")
        self.seen: list[str] = []

    def encode_batch(self, texts, kind):
        self.seen.extend(texts)
        return np.array([[len(t)] for t in texts], dtype=np.float32)


def test_prefixes_batches_and_order_are_handled_once():
    enc = _Prefixing()
    out = enc.encode(["ccc", "a", "bb"], kind="query", batch_size=2, normalize=False)
    assert out[:, 0].tolist() == [6.0, 4.0, 5.0]  # input order kept
    assert enc.seen == ["q: a", "q: bb", "q: ccc"]  # sorted by length before batching
    enc.encode(["x"], kind=Kind.DOCUMENT)
    assert enc.seen[-1] == "d: x"


class _Broken(Encoder):
    def __init__(self, value: float, rows: int = 1) -> None:
        self.space = EmbeddingSpace(model="broken", dim=2)
        self.value, self.rows = value, rows

    def encode_batch(self, texts, kind):
        return np.full((self.rows, 2), self.value, dtype=np.float32)


def test_nan_and_wrong_shape_are_refused():
    with pytest.raises(EmbedstackError, match="NaN"):
        _Broken(float("nan")).encode(["x"])
    with pytest.raises(EmbedstackError, match=r"shape \(2, 2\)"):
        _Broken(1.0, rows=2).encode(["x"])


def test_space_diff_and_roundtrip():
    a = EmbeddingSpace(model="m", dim=3, pooling="mean")
    b = EmbeddingSpace(model="m", dim=3, pooling="cls")
    assert a.diff(b) == ["pooling: 'mean' != 'cls'"]
    assert EmbeddingSpace.from_dict(a.to_dict()) == a
    assert a.key() != b.key()
    with pytest.raises(EmbedstackError, match="pooling"):
        a.require_same(b)


def test_unknown_spec_says_what_to_do():
    with pytest.raises(EmbedstackError, match="embedstack models"):
        load_encoder("no-such-model-xyz")


def test_sentence_transformers_keywords_and_similarity():
    enc = HashEncoder(16)
    texts = ["red apples", "green pears"]
    raw = enc.encode(texts, normalize_embeddings=False)
    np.testing.assert_array_equal(raw, enc.encode(texts, normalize=False))
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    listed = enc.encode(texts, batch_size=1, convert_to_numpy=False)
    assert isinstance(listed, list) and [v.shape for v in listed] == [(16,), (16,)]
    with pytest.raises(InputError, match="disagree"):
        enc.encode(texts, normalize=True, normalize_embeddings=False)
    a, b = enc.encode(texts), enc.encode(["red apples"])
    sims = enc.similarity(a, b)
    assert sims.shape == (2, 1) and sims[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert enc.similarity(a[0], a[1]).shape == (1, 1)  # single vectors work too


def test_lone_surrogates_are_refused_before_any_tokenizer():
    enc = HashEncoder(8)
    bad = "caf\udce9"  # what Python makes of a Latin-1 byte in a UTF-8 command line
    with pytest.raises(InputError, match=r"texts\[1\] is not valid Unicode.*character 3"):
        enc.encode(["fine", bad])
    with pytest.raises(InputError, match="not valid Unicode"):
        enc.encode(bad)


def test_async_encode_matches_sync_for_any_encoder():
    import asyncio

    enc = HashEncoder(16)
    texts = ["one", "two two", "three"]
    np.testing.assert_array_equal(asyncio.run(enc.aencode(texts, batch_size=2)), enc.encode(texts))
    assert asyncio.run(enc.aencode("one")).shape == (16,)


def test_zero_rows_are_reported_for_every_encoder(caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        out = HashEncoder(8).encode(["words", "", "!!"])
    enc = HashEncoder(8)
    enc.encode(["words", "", "!!"])
    assert enc.last_zero_rows == [1, 2] and not out[1].any()
    assert "2 of 3 texts have no token the model knows" in caplog.text


def test_encode_is_written_once_in_the_base():
    """Every encoder in the package derives encode/aencode from `Encoder`: subclasses
    implement `encode_batch`, wrappers override `iter_encode` / `aiter_encode` only."""
    import importlib
    import pkgutil

    import embedstack.encoders as package

    for info in pkgutil.walk_packages(package.__path__, "embedstack.encoders."):
        if info.name.endswith(("torch_export", "distill")):
            continue  # need optional extras (torch, model2vec) just to import
        importlib.import_module(info.name)

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    found = [c for c in subclasses(Encoder) if c.__module__.startswith("embedstack.")]
    assert len(found) >= 10
    for cls in found:
        assert "encode" not in vars(cls) and "aencode" not in vars(cls), cls
