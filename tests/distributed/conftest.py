"""Fixtures for embed-corpus tests: a tiny generated corpus, one local Ray cluster per
session (2 CPUs, a small object store, no dashboard), and the hosted fake API."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

_HOSTED = Path(__file__).parent.parent / "hosted"
_spec = importlib.util.spec_from_file_location("hosted_fixtures", _HOSTED / "conftest.py")
assert _spec is not None and _spec.loader is not None
import sys  # noqa: E402

sys.path.insert(0, str(_HOSTED))  # the hosted conftest imports fake_apis
hosted_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hosted_fixtures)
fake_server = hosted_fixtures.fake_server  # the loopback fake of the hosted APIs

WORDS = (
    "cell protein gene mouse cancer therapy immune blood brain signal receptor dose "
    "trial patient tumour expression pathway kinase neuron insulin virus vaccine risk"
).split()


def write_corpus(folder: Path, shards: int = 3, rows: int = 80, seed: int = 0) -> int:
    """SciFact-like abstracts in JSONL shards; returns the number of rows."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with open(folder / f"shard-{s}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(rows):
                text = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
                fh.write(json.dumps({"id": f"doc-{s}-{i}", "text": text, "n": i}) + "\n")
    return shards * rows


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
