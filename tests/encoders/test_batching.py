"""Token-count batching, tokenisation ahead in a thread, per-stage times."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_numpy_bert

from embedstack.encoders import batching
from embedstack.encoders.batching import StageTimes, ahead, token_batches
from embedstack.encoders.onnx import OnnxEncoder, load_local
from embedstack.errors import InputError
from embedstack.types import Kind

WORDS = [
    "cat",
    "dog",
    "7",
    "x1y2",
    "house",
    "river",
    "12345",
    "über",
    "the",
    "a",
    "mat",
    "sat",
    "on",
    "blue",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(0, 25))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_numpy_bert(tmp_path_factory.mktemp("b") / "tiny")


@pytest.fixture(scope="module")
def encoder(tiny: Path) -> OnnxEncoder:
    return load_local(str(tiny))


def test_token_batches_are_sorted_by_tokens_and_padded_to_their_own_longest(encoder) -> None:
    texts = _texts(300)
    times = StageTimes()
    model = encoder.model
    seen: list[int] = []
    count = 0
    for idx, batch in token_batches(texts, 16, model.encode_unpadded, model.pad, times):
        lengths = batch.attention_mask.sum(1)
        assert batch.input_ids.shape == (len(idx), lengths.max())  # no padding beyond longest
        assert list(lengths) == sorted(lengths)  # fewest tokens first within a window
        for row, i in enumerate(idx):  # each row is the text it claims to be
            alone = model.tokenize([texts[i]])
            assert list(batch.input_ids[row, : lengths[row]]) == list(alone.input_ids[0])
        seen += idx
        count += 1
        assert len(idx) <= 16
    assert sorted(seen) == list(range(300))
    assert times.texts == 300 and times.batches == count >= 300 // 16
    assert 0 < times.tokens <= times.padded and times.padding < 0.5


def test_token_sorting_beats_character_sorting_on_padding(encoder) -> None:
    # an unknown long word is one token: character order misgroups these texts
    texts = [("cat " * (i % 20 + 1)).strip() for i in range(64)]
    texts += [("zzzzzzzzzzzzzzzzzzzz " * (i % 4 + 1)).strip() for i in range(64)]
    times = StageTimes()
    model = encoder.model
    list(token_batches(texts, 16, model.encode_unpadded, model.pad, times))
    by_chars = sorted(texts, key=len)
    padded = sum(
        len(b) * model.tokenize(b).input_ids.shape[1]
        for b in (by_chars[i : i + 16] for i in range(0, len(texts), 16))
    )
    assert times.padded < padded


def test_batched_vectors_equal_unbatched_in_input_order(encoder) -> None:
    texts = _texts(120, seed=1)
    batched = encoder.encode(texts, batch_size=8)
    profile = encoder.last_profile
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(batched, alone, atol=1e-5)
    assert profile is not None and profile.texts == 120 and profile.run > 0
    assert "tokenise" in profile.summary()


def test_parallel_tokenisation_equals_serial(tiny: Path) -> None:
    texts = _texts(200, seed=2)
    threaded, serial = load_local(str(tiny)), load_local(str(tiny))
    serial.tokenize_ahead = False
    a = threaded.encode(texts, batch_size=4)
    b = serial.encode(texts, batch_size=4)
    assert np.array_equal(a, b)


def test_ahead_keeps_order_raises_errors_and_stops_early() -> None:
    assert batching.WINDOW_BATCHES >= 1
    assert list(ahead(range(50), lambda x: x * x)) == [x * x for x in range(50)]
    assert list(ahead(range(5), str, threaded=False)) == ["0", "1", "2", "3", "4"]

    def boom(x: int) -> int:
        if x == 3:
            raise InputError("bad item 3")
        return x

    with pytest.raises(InputError, match="bad item 3"):
        list(ahead(range(10), boom))
    produced: list[int] = []
    gen = ahead(range(1000), lambda x: produced.append(x) or x)
    assert next(gen) == 0
    gen.close()  # must not hang, and must stop the thread well before the end
    assert len(produced) < 1000


def test_truncation_is_still_counted_through_the_batches(encoder, caplog) -> None:
    long = " ".join(["cat dog"] * 30)
    with caplog.at_level("WARNING"):
        encoder.encode([long, "cat", long], batch_size=2)
    assert "2 text(s) were longer" in caplog.text


def test_run_slices_give_the_same_vectors(tiny: Path) -> None:
    texts = _texts(100, seed=4)
    whole, sliced = load_local(str(tiny)), load_local(str(tiny))
    assert whole.run_tokens > 0  # sliced by default, per intra-op thread
    whole.run_tokens, sliced.run_tokens = 0, 20  # ~1-2 rows per session.run
    assert np.allclose(
        whole.encode(texts, batch_size=16), sliced.encode(texts, batch_size=16), atol=1e-5
    )
    batch = whole.model.tokenize(["cat", "cat dog house river mat"])
    part = batch.rows(0, 1)  # trimmed to the first row's own length
    assert part.input_ids.shape == (1, int(batch.attention_mask[0].sum()))


def test_empty_inputs(encoder) -> None:
    assert encoder.encode_batch([], Kind.DOCUMENT).shape == (0, 32)
    assert encoder.encode([]).shape == (0, 32)
    assert encoder.encode([""]).shape == (1, 32)
