"""`--pooling`, `--precision`, `--query-prefix`, `--document-prefix` reach the encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedstack.cli.encoder_options import EncoderChoice, encoder_choice
from embedstack.cli.main import app
from embedstack.errors import InputError
from embedstack.registry import load_encoder
from embedstack.store.collection import Collection

runner = CliRunner()


def embed(*args: str) -> np.ndarray:
    result = runner.invoke(app, ["embed", "a cat sat on the mat", "--json", *args])
    assert result.exit_code == 0, result.output
    return np.asarray(json.loads(result.stdout)["embeddings"][0])


def test_encoder_choice_keeps_only_given_options() -> None:
    assert encoder_choice("minilm") == EncoderChoice("minilm", {})
    choice = encoder_choice("minilm", "cls", None, "", "passage: ")
    assert choice.options == {"pooling": "cls", "query_prefix": "", "document_prefix": "passage: "}


def test_embed_options_change_the_vectors_like_the_python_api() -> None:
    plain = embed("-m", "minilm")
    cls = embed("-m", "minilm", "--pooling", "cls")
    prefixed = embed("-m", "minilm", "--document-prefix", "passage: ")
    assert not np.allclose(plain, cls) and not np.allclose(plain, prefixed)
    reference = load_encoder("minilm", pooling="cls").encode(["a cat sat on the mat"])[0]
    np.testing.assert_allclose(cls, reference, atol=1e-5)
    query = runner.invoke(
        app, ["embed", "x", "--kind", "query", "--query-prefix", "query: ", "--json"]
    )
    expected = load_encoder("minilm", query_prefix="query: ").encode(["x"], kind="query")[0]
    np.testing.assert_allclose(json.loads(query.stdout)["embeddings"][0], expected, atol=1e-5)


def test_a_model_that_ignores_an_option_is_refused() -> None:
    with pytest.raises(InputError, match="does not take --pooling"):
        encoder_choice("hash", pooling="cls").load()
    result = runner.invoke(app, ["embed", "x", "-m", "hash", "--pooling", "cls"])
    assert result.exit_code == 1
    assert "does not take --pooling" in result.output


def test_index_records_the_chosen_space_and_reopens_it(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "text": "tides follow the moon"}\n', encoding="utf-8")
    into = tmp_path / "c.es"
    args = ["index", str(data), "--into", str(into), "-m", "minilm", "--pooling", "cls",
            "--document-prefix", "passage: "]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with Collection.open(into) as col:
        assert col.space.pooling == "cls" and col.space.document_prefix == "passage: "
        assert col.search("moon", k=1)[0].id == "a"  # encoder rebuilt from the manifest
    again = runner.invoke(app, args)  # same options: the same space, nothing to embed
    assert again.exit_code == 0 and "nothing to embed" in again.output
    other = runner.invoke(app, [*args[:6], "--pooling", "max"])
    assert other.exit_code == 1 and "pooling" in other.output


def test_embed_corpus_creates_the_collection_in_the_chosen_space(tmp_path: Path) -> None:
    shard = tmp_path / "shards" / "part-0.jsonl"
    shard.parent.mkdir()
    shard.write_text('{"id": "a", "text": "tides"}\n{"id": "b", "text": "moon"}\n')
    into = tmp_path / "c.es"
    args = ["embed-corpus", str(shard.parent), "--into", str(into), "--format", "collection",
            "-m", "minilm", "--pooling", "max", "--json", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with Collection.open(into) as col:
        assert col.space.pooling == "max" and len(col) == 2
        expected = load_encoder("minilm", pooling="max").encode(["moon"])[0]
        np.testing.assert_allclose(col.get(["b"])[0].vector, expected, atol=1e-5)
