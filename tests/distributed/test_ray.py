"""embed_shards on a local Ray cluster (2 CPUs): same output as one process, a killed
worker loses nothing, hosted workers share one rate limiter."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from distributed_helpers import (
    assert_same,
    by_id,
    collection_output,
    parquet_output,
    write_corpus,
)

from embedstack.distributed import embed_shards

MODEL = "hash:32"


def test_two_ray_workers_equal_the_single_process_output(ray_cluster, corpus, tmp_path):
    local = embed_shards([corpus], tmp_path / "local", MODEL, unit_rows=20).summary()
    distributed = embed_shards(
        [corpus], tmp_path / "ray", MODEL, unit_rows=20, ray="auto", workers=2
    ).summary()
    assert (distributed["embedded"], distributed["failed"]) == (local["embedded"], 0) == (240, 0)
    assert_same(
        by_id(*parquet_output(tmp_path / "ray")), by_id(*parquet_output(tmp_path / "local"))
    )
    driver = f"{socket.gethostname()}:{os.getpid()}"
    assert driver not in distributed["workers"]  # the units ran in Ray actors
    assert sum(w["rows"] for w in distributed["workers"].values()) == 240
    again = embed_shards([corpus], tmp_path / "ray", MODEL, unit_rows=20, ray="auto", workers=2)
    assert (again.embedded, again.skipped) == (0, 240)


def test_ray_into_a_collection_equals_the_local_job(ray_cluster, corpus, tmp_path):
    embed_shards([corpus], tmp_path / "local", MODEL, fmt="collection", unit_rows=50)
    summary = embed_shards(
        [corpus], tmp_path / "ray", MODEL, fmt="collection", unit_rows=50, ray="auto", workers=2
    ).summary()
    assert summary["embedded"] == 240 and summary["failed"] == 0
    assert_same(collection_output(tmp_path / "ray"), collection_output(tmp_path / "local"))


@pytest.mark.model
def test_a_killed_worker_loses_only_its_unit_which_is_redone(ray_cluster, tmp_path):
    src = tmp_path / "src"
    write_corpus(src, shards=2, rows=72)
    killed: list[str] = []

    def kill_first_worker(result, stats):
        host, _, pid = result.worker.rpartition(":")
        if not killed and host == socket.gethostname() and int(pid) != os.getpid():
            killed.append(result.worker)
            os.kill(int(pid), signal.SIGKILL)  # a Ray actor process this test started

    summary = embed_shards(
        [src],
        tmp_path / "ray",
        "minilm",
        unit_rows=8,
        ray="auto",
        workers=2,
        on_unit=kill_first_worker,
    ).summary()
    assert killed
    with pytest.raises(ProcessLookupError):
        os.kill(int(killed[0].rpartition(":")[2]), 0)  # it really died mid-run
    # its unit in flight was redone (by the actor Ray restarts, usually a third pid)
    assert (summary["embedded"], summary["failed"], summary["duplicates"]) == (144, 0, 0)
    assert len(summary["workers"]) >= 2
    embed_shards([src], tmp_path / "local", "minilm", unit_rows=8)
    assert_same(
        by_id(*parquet_output(tmp_path / "ray")), by_id(*parquet_output(tmp_path / "local"))
    )


def test_only_the_ray_executor_imports_ray():
    root = Path(__file__).parents[2] / "src" / "embedstack"
    users = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith(("import ray", "from ray")) or 'require("ray' in line
    }
    assert users == {"distributed/ray_executor.py"}
