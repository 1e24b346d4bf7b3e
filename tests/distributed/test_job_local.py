"""embed_shards in one process: output shape, resume, failures, and a killed driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from distributed_helpers import (
    assert_same,
    by_id,
    collection_output,
    parquet_output,
    write_corpus,
)

import embedstack.distributed.worker as worker_module
from embedstack.distributed import embed_shards
from embedstack.errors import InputError, SpaceMismatchError
from embedstack.registry import load_encoder
from embedstack.store.changes import content_hash
from embedstack.store.collection import Collection
from embedstack.store.ingest import embed_corpus
from embedstack.text.loaders import load_documents

MODEL = "hash:32"


def test_parquet_output_has_exactly_the_promised_columns(corpus, tmp_path):
    stats = embed_shards([corpus], tmp_path / "out", MODEL, unit_rows=50)
    summary = stats.summary()
    assert {k: summary[k] for k in ("rows", "embedded", "skipped", "failed")} == {
        "rows": 240,
        "embedded": 240,
        "skipped": 0,
        "failed": 0,
    }
    assert isinstance(summary["seconds"], float)
    table = pq.read_table(tmp_path / "out")
    assert table.column_names == ["id", "vector", "space", "hash"]
    encoder = load_encoder(MODEL)
    assert set(table.column("space").to_pylist()) == {encoder.space.key()}
    docs = {d.id: d.text for d in load_documents([corpus]).documents}
    ids, vectors = parquet_output(tmp_path / "out")
    got = by_id(ids, vectors)
    want = dict(zip(docs, encoder.encode(list(docs.values())), strict=True))
    assert_same(got, want)
    hashes = dict(zip(ids, table.column("hash").to_pylist(), strict=True))
    assert all(hashes[i] == content_hash(t) for i, t in docs.items())


def test_rerun_skips_finished_units_and_changed_input_is_refused(corpus, tmp_path):
    out = tmp_path / "out"
    embed_shards([corpus], out, MODEL, unit_rows=50)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    again = embed_shards([corpus], out, MODEL, unit_rows=50).summary()
    assert (again["embedded"], again["skipped"], again["skipped_units"]) == (0, 240, 6)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")} == before
    with pytest.raises(InputError, match="different job"):
        embed_shards([corpus], out, "hash:16", unit_rows=50)
    with pytest.raises(InputError, match="different job"):
        embed_shards([corpus], out, MODEL, unit_rows=40)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("user data")
    with pytest.raises(InputError, match="not empty"):
        embed_shards([corpus], tmp_path / "other", MODEL)


def test_a_failed_unit_is_reported_and_redone_by_the_next_run(corpus, tmp_path, monkeypatch):
    real = worker_module.read_unit

    def flaky(unit, fields=None):
        if unit.index == 2:
            raise OSError("disk hiccup")
        return real(unit, fields)

    monkeypatch.setattr(worker_module, "read_unit", flaky)
    seen = []
    first = embed_shards(
        [corpus], tmp_path / "out", MODEL, unit_rows=50, on_unit=lambda r, s: seen.append(r)
    ).summary()
    assert first["failed"] == 50 and first["embedded"] == 190
    assert first["failed_units"] == [{"unit": seen[2].key, "error": "OSError: disk hiccup"}]
    assert "duplicates" not in first  # the uniqueness check runs once every unit is done
    monkeypatch.setattr(worker_module, "read_unit", real)
    second = embed_shards([corpus], tmp_path / "out", MODEL, unit_rows=50).summary()
    assert (second["embedded"], second["skipped"], second["failed"]) == (50, 190, 0)
    assert second["duplicates"] == 0
    ids, vectors = parquet_output(tmp_path / "out")
    assert len(by_id(ids, vectors)) == 240


def test_collection_output_equals_the_existing_embed_corpus(corpus, tmp_path):
    docs = load_documents([corpus]).documents
    reference = Collection.create(tmp_path / "ref", MODEL, indexes=())
    embed_corpus([(d.id, d.text, d.metadata) for d in docs], reference, progress=False)
    reference.close()
    stats = embed_shards(
        [corpus], tmp_path / "coll", MODEL, fmt="collection", unit_rows=64, workers=2
    )
    assert stats.summary()["embedded"] == 240
    assert_same(collection_output(tmp_path / "coll"), collection_output(tmp_path / "ref"))
    with Collection.open(tmp_path / "coll") as coll:
        record = coll.get(["doc-1-5"])[0]
        assert record.metadata == {"n": 5, "path": (corpus / "shard-1.jsonl").as_posix()}
        assert coll.search("immune receptor", k=3)
    assert not list((tmp_path / "coll.embed-corpus" / "staging").iterdir())
    # an existing collection is detected without --format, and its model must match
    again = embed_shards([corpus], tmp_path / "coll", unit_rows=64).summary()
    assert (again["format"], again["skipped"]) == ("collection", 240)
    with pytest.raises(SpaceMismatchError):
        embed_shards([corpus], tmp_path / "coll", "hash:16", unit_rows=64)


def test_database_url_goes_through_the_collection_backend(corpus, tmp_path):
    import importlib.util

    if importlib.util.find_spec("embedstack.store.postgres") is None:
        with pytest.raises(InputError, match="no PostgreSQL backend"):
            embed_shards([corpus], "postgresql://localhost/x", MODEL)
    with pytest.raises(InputError, match="Parquet output needs a folder"):
        embed_shards([corpus], "postgresql://localhost/x", MODEL, fmt="parquet")


def test_dry_run_plans_without_writing_vectors(corpus, tmp_path):
    summary = embed_shards([corpus], tmp_path / "out", MODEL, unit_rows=100, dry_run=True)
    assert summary.summary()["pending_units"] == 3
    assert not list((tmp_path / "out").glob("*.parquet"))
    with pytest.raises(InputError, match="hosted models"):
        embed_shards([corpus], tmp_path / "out", MODEL, max_cost=1.0)


# Slows each unit down so the driver is surely killed mid-run; then runs the real CLI.
_SLOW_DRIVER = """
import sys, time
import embedstack.encoders.hashing as hashing
real = hashing.HashEncoder.encode
def slow(self, *args, **kwargs):
    time.sleep(0.15)
    return real(self, *args, **kwargs)
hashing.HashEncoder.encode = slow
from embedstack.cli.main import main
sys.argv = ["embedstack", *sys.argv[1:]]
main()
"""


def test_killed_driver_loses_nothing_and_writes_nothing_twice(tmp_path):
    src = tmp_path / "src"
    total = write_corpus(src, shards=2, rows=100)
    out = tmp_path / "out"
    args = [str(src), "--into", str(out), "--model", MODEL, "--unit-rows", "10", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_DRIVER, "embed-corpus", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    done = out / "_embed_corpus" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if done.is_dir() and len(list(done.glob("unit-*.json"))) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(done.glob("unit-*.json")))
    assert 3 <= finished < 20

    rerun = subprocess.run(
        [sys.executable, "-m", "embedstack", "embed-corpus", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(rerun.stdout)
    assert summary["skipped"] >= finished * 10
    assert summary["embedded"] + summary["skipped"] == total
    assert summary["failed"] == 0 and summary["duplicates"] == 0
    assert not list(out.glob(".*.tmp"))  # a write cut by the kill left nothing behind
    ids, vectors = parquet_output(out)
    docs = {d.id: d.text for d in load_documents([src]).documents}
    encoder = load_encoder(MODEL)
    want = dict(zip(docs, encoder.encode(list(docs.values())), strict=True))
    assert_same(by_id(ids, vectors), want)
    assert np.isfinite(vectors).all()


def test_an_id_repeated_across_units_is_reported(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text('{"id": "x", "text": "one"}\n{"id": "y", "text": "two"}\n')
    (src / "b.jsonl").write_text('{"id": "x", "text": "three"}\n')
    summary = embed_shards([src], tmp_path / "out", MODEL).summary()
    assert (summary["duplicates"], summary["duplicate_ids"]) == (1, ["x"])
    from typer.testing import CliRunner

    from embedstack.cli.main import app

    args = ["embed-corpus", str(src), "--into", str(tmp_path / "out"), "--model", MODEL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "ids must be unique" in result.stderr
