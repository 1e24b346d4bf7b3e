"""Execution providers (device=/providers=) and options written into a model spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_numpy_bert

from embedstack.encoders import runtime
from embedstack.encoders.onnx import load_local
from embedstack.encoders.runtime import ProviderUnavailableError
from embedstack.errors import EmbedstackError, InputError
from embedstack.registry import load_encoder, split_spec


def _texts(n: int) -> list[str]:
    return [f"the cat {i} sat on the mat by the river" for i in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_numpy_bert(tmp_path_factory.mktemp("r") / "tiny")


@pytest.fixture(scope="module")
def encoder(tiny: Path):
    return load_local(str(tiny))


def test_missing_provider_is_a_clear_error(tiny: Path) -> None:
    with pytest.raises(ProviderUnavailableError) as info:
        load_local(str(tiny), device="cuda")
    message = str(info.value)
    assert "CUDAExecutionProvider" in message and "CPUExecutionProvider" in message
    assert "onnxruntime-gpu" in message and isinstance(info.value, EmbedstackError)
    with pytest.raises(ProviderUnavailableError, match="NoSuchExecutionProvider"):
        load_local(str(tiny), providers=["NoSuchExecutionProvider"])
    with pytest.raises(InputError, match="unknown device"):
        load_local(str(tiny), device="abacus")
    with pytest.raises(InputError, match="not both"):
        load_local(str(tiny), device="cpu", providers=["CPUExecutionProvider"])


def test_explicit_cpu_works_and_matches_default(tiny: Path, encoder) -> None:
    texts = _texts(10)
    cpu = load_local(str(tiny), device="cpu")
    listed = load_local(str(tiny), providers=["CPUExecutionProvider"], threads=1)
    assert cpu.model.providers == ["CPUExecutionProvider"]
    assert cpu.model.session.get_providers() == ["CPUExecutionProvider"]
    assert np.allclose(cpu.encode(texts), encoder.encode(texts), atol=1e-6)
    assert np.allclose(listed.encode(texts), encoder.encode(texts), atol=1e-5)
    assert cpu.space == encoder.space  # the device is not part of the embedding space


def test_resolve_providers_appends_cpu(monkeypatch) -> None:
    monkeypatch.setattr(
        runtime, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert runtime.resolve_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert runtime.resolve_providers("CUDA:0") == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert runtime.resolve_providers(None) == ["CPUExecutionProvider"]


def test_options_in_the_spec(tiny: Path, encoder) -> None:
    assert split_spec("minilm") == ("minilm", {})
    assert split_spec("minilm?precision=int8&threads=2&normalize=false") == (
        "minilm",
        {"precision": "int8", "threads": 2, "normalize": False},
    )
    with pytest.raises(InputError, match="not key=value"):
        split_spec("minilm?int8")
    from_spec = load_encoder(f"{tiny}?threads=1&pooling=cls")
    assert from_spec.space.model == str(tiny) and from_spec.space.pooling == "cls"
    assert from_spec.model.session.get_session_options().intra_op_num_threads == 1
    keyword = load_encoder(f"{tiny}?pooling=cls", pooling="mean")  # keyword options win
    assert keyword.space.pooling == "mean" == encoder.space.pooling
    with pytest.raises(ProviderUnavailableError, match="available"):
        load_encoder(f"{tiny}?device=cuda")


def test_cli_index_with_options_in_the_model_spec(tiny: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from embedstack.cli.main import app
    from embedstack.store.collection import Collection

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(f'{{"id": "d{i}", "text": "{t}"}}\n' for i, t in enumerate(_texts(5))))
    into = tmp_path / "c.es"
    spec = f"{tiny}?pooling=cls&threads=1"
    result = CliRunner().invoke(app, ["index", str(docs), "--into", str(into), "--model", spec])
    assert result.exit_code == 0, result.output
    with Collection.open(into) as col:  # reopened from the manifest's spec, options kept
        assert col.manifest.space.pooling == "cls" and len(col) == 5
    again = CliRunner().invoke(app, ["index", str(docs), "--into", str(into)])
    assert again.exit_code == 0, again.output
    bad = CliRunner().invoke(
        app,
        ["index", str(docs), "--into", str(tmp_path / "d.es"), "--model", f"{tiny}?device=cuda"],
    )
    assert bad.exit_code != 0 and "CUDAExecutionProvider" in bad.output


def test_spinning_follows_the_load_unless_set(tiny: Path, monkeypatch) -> None:
    def spinning(enc) -> str:
        options = enc.model.session.get_session_options()
        return options.get_session_config_entry("session.intra_op.allow_spinning")

    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    assert spinning(load_local(str(tiny))) == "0"
    assert spinning(load_local(str(tiny), spin=True)) == "1"
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert spinning(load_local(str(tiny))) == "1"
    assert spinning(load_local(str(tiny), spin=False)) == "0"
