import numpy as np
import pytest

from embedstack.encoders.base import Encoder
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import EmbedstackError
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
