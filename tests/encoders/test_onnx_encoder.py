"""OnnxEncoder on a tiny numpy-built BERT: pooling, prefixes, truncation policy, tokens."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_numpy_bert

from embedstack.encoders.onnx import OnnxEncoder, load_local
from embedstack.encoders.pooling import pool
from embedstack.errors import InputError, TruncationError
from embedstack.registry import load_encoder

LONG = " ".join(["cat dog"] * 30)  # 60 words: past the tiny model's 40-token limit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_numpy_bert(tmp_path_factory.mktemp("m") / "tiny")
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query : ", "passage": "passage : "}})
    )
    return path


def test_defaults_come_from_the_model_folder(tiny: Path) -> None:
    enc = load_encoder(str(tiny))
    assert isinstance(enc, OnnxEncoder)
    space = enc.space
    assert (space.model, space.dim, space.pooling, space.max_tokens) == (str(tiny), 32, "cls", 40)
    assert (space.query_prefix, space.document_prefix) == ("query : ", "passage : ")
    assert space.normalize and space.precision == "float32" and len(space.fingerprint) == 64
    assert len(space.tokenizer) == 64


def test_vectors_are_pooled_hidden_states_in_input_order(tiny: Path) -> None:
    enc = load_local(str(tiny), pooling="mean", query_prefix="", document_prefix="")
    texts = ["the cat sat on the mat", "", "dog", "a big red house by the river"]
    out = enc.encode(texts, batch_size=2)
    assert out.shape == (4, 32) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    for i, text in enumerate(texts):
        batch = enc.model.tokenize([text])
        expected = pool(enc.model.hidden_states(batch), batch.attention_mask, "mean")[0]
        np.testing.assert_allclose(out[i], expected / np.linalg.norm(expected), atol=1e-5)
    raw = enc.encode(texts[:1], normalize=False)
    assert not np.isclose(np.linalg.norm(raw), 1.0)
    assert enc.encode([]).shape == (0, 32)


def test_prefixes_change_query_vectors_only_by_kind(tiny: Path) -> None:
    enc = load_local(str(tiny))
    query, document = enc.encode(["red house"], kind="query"), enc.encode(["red house"])
    assert not np.allclose(query, document)
    plain = load_local(str(tiny), query_prefix="", document_prefix="")
    np.testing.assert_allclose(plain.encode(["query : red house"]), query, atol=1e-6)


def test_truncation_warns_once_with_the_count(tiny: Path, caplog: pytest.LogCaptureFixture) -> None:
    enc = load_local(str(tiny))
    with caplog.at_level(logging.WARNING, logger="embedstack"):
        enc.encode([LONG, "short", LONG + " mat"], batch_size=1)
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].getMessage().startswith("2 text(s)")
    caplog.clear()
    enc.encode(["short"])
    assert not caplog.records


def test_truncate_error_lists_indices(tiny: Path) -> None:
    enc = load_local(str(tiny), truncate="error")
    with pytest.raises(TruncationError, match=r"2 text\(s\) exceed .* \(indices 1, 3\)"):
        enc.encode(["ok", LONG, "fine", LONG])
    assert enc.encode(["ok"]).shape == (1, 32)
    with pytest.raises(InputError, match="truncate must be one of"):
        load_local(str(tiny), truncate="silent")


def test_count_tokens_is_untruncated(tiny: Path) -> None:
    enc = load_local(str(tiny))
    assert enc.count_tokens(["", "the cat", LONG]) == [2, 4, 62]


def test_encode_tokens_offsets_point_into_the_original_text(tiny: Path) -> None:
    enc = load_local(str(tiny))
    text = "big red houses"
    (tokens,) = enc.encode_tokens([text], kind="query")
    assert tokens.tokens[-4:] == ["red", "house", "##s", "[SEP]"]
    spans = [text[s:e] for s, e in tokens.offsets.tolist()]
    assert spans[-4:] == ["red", "house", "s", ""] and spans[0] == ""
    assert tokens.vectors.shape == (len(tokens.tokens), 32)
    batch = enc.model.tokenize(["query : " + text])
    np.testing.assert_allclose(tokens.vectors, enc.model.hidden_states(batch)[0], atol=1e-5)
    several = enc.encode_tokens(["a", LONG, "cat"], batch_size=2)
    assert [len(t.tokens) for t in several] == [
        5,
        40,
        5,
    ]  # [CLS] passage : x [SEP] (prefix words are [UNK] here)


def test_unknown_options_are_refused(tiny: Path) -> None:
    with pytest.raises(InputError, match="unknown option"):
        load_local(str(tiny), pooling_mode="mean")
    with pytest.raises(InputError, match="pooling must be one of"):
        load_local(str(tiny), pooling="median")


def test_int8_precision_is_a_separate_space_close_to_float32(tiny: Path) -> None:
    full, small = load_local(str(tiny)), load_local(str(tiny), precision="int8")
    assert small.space.precision == "int8" and full.space.diff(small.space) == [
        "precision: 'float32' != 'int8'"
    ]
    texts = ["the cat sat on the mat", "a big red house"]
    assert ((full.encode(texts) * small.encode(texts)).sum(axis=1) > 0.99).all()


def test_threads_share_one_encoder(tiny: Path, caplog: pytest.LogCaptureFixture) -> None:
    from concurrent.futures import ThreadPoolExecutor

    enc = load_local(str(tiny))
    texts = ["the cat sat", "a big red house", LONG]
    expected = enc.encode(texts)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="embedstack"), ThreadPoolExecutor(4) as pool_:
        results = list(pool_.map(lambda _: enc.encode(texts, batch_size=1), range(8)))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)
    counts = [r.getMessage().split()[0] for r in caplog.records if "truncated" in r.getMessage()]
    assert counts == ["1"] * 8  # each call reports its own truncated text


def test_sentence_transformers_folder_with_vocab_txt_loads_by_path(tmp_path: Path) -> None:
    folder = make_numpy_bert(tmp_path / "st-folder")
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")  # BERT folders ship vocab.txt
    (folder / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer"}]')
    assert isinstance(load_encoder(str(folder)), OnnxEncoder)


def test_undecodable_input_is_an_input_error_not_a_tokenizer_traceback(tiny: Path) -> None:
    enc = load_local(str(tiny))
    bad = "caf\udce9"  # a Latin-1 byte in a UTF-8 command line, as Python decodes argv
    for call in (enc.encode, enc.count_tokens, enc.encode_tokens):
        with pytest.raises(InputError, match="not valid Unicode"):
            call(["fine", bad])


def test_span_tokenizer_is_the_models_own(tiny: Path) -> None:
    from embedstack.text.tokenize import HFTokenizer, special_tokens, tokenizer_for

    enc = load_local(str(tiny))
    assert isinstance(tokenizer_for(enc), HFTokenizer)
    assert special_tokens(enc) == 2  # [CLS] and [SEP]
    assert len(enc.span_tokenizer().spans("cat dog")) == enc.count_tokens(["cat dog"])[0] - 2
