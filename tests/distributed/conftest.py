"""Fixtures for embed-corpus tests: a tiny generated corpus, one local Ray cluster per
session (2 CPUs, a small object store, no dashboard), and the hosted fake API."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from distributed_helpers import write_corpus

_HOSTED = Path(__file__).parent.parent / "hosted"
_spec = importlib.util.spec_from_file_location("hosted_fixtures", _HOSTED / "conftest.py")
assert _spec is not None and _spec.loader is not None
import sys  # noqa: E402

sys.path.insert(0, str(_HOSTED))  # the hosted conftest imports fake_apis
hosted_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hosted_fixtures)
fake_server = hosted_fixtures.fake_server  # the loopback fake of the hosted APIs


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "src")
    return tmp_path / "src"


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()
