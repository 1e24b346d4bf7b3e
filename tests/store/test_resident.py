"""A reopened HNSW base graph is read into RAM on huge pages when it fits, and stays
memory-mapped when it does not; both answer the same."""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path

import numpy as np
import pytest
from test_ann import ids, make, queries_near
from test_ann_incremental import hnsw

from embedstack.store import resident
from embedstack.store.collection import Collection
from embedstack.store.resident import available_memory, read_resident


def test_read_resident_holds_the_files_bytes(tmp_path):
    path = tmp_path / "blob"
    data = np.random.default_rng(0).integers(0, 256, 3 * 2**20 + 17, dtype=np.uint8)
    path.write_bytes(data.tobytes())
    memory = read_resident(path)
    assert memory is not None and bytes(memory) == data.tobytes()
    (tmp_path / "empty").write_bytes(b"")
    assert read_resident(tmp_path / "empty") is None


def test_a_file_too_large_for_the_available_memory_stays_mapped(tmp_path, monkeypatch):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 1000)
    monkeypatch.setattr(resident, "available_memory", lambda: 1999)  # 1000 > half of it
    assert read_resident(path) is None
    monkeypatch.setattr(resident, "available_memory", lambda: None)  # unknown: stay mapped
    assert read_resident(path) is None
    monkeypatch.setattr(resident, "available_memory", lambda: 2000)
    assert read_resident(path) is not None


def test_available_memory_is_known_here():
    free = available_memory()
    assert free is not None and free > 0


def _huge_kib(memory: mmap.mmap) -> int | None:
    """AnonHugePages of the mapping holding `memory` (None: not Linux, or THP off)."""
    enabled = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not enabled.exists() or "[never]" in enabled.read_text():
        return None
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(x, 16) for x in head.split("-"))
            inside = low <= start < high
        elif inside and head == "AnonHugePages:":
            return int(line.split()[1])
    return 0


def test_the_copy_is_advised_as_huge_pages(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"\x01" * (16 * 2**20))  # holds several aligned 2 MiB pages
    memory = read_resident(path)
    assert memory is not None
    huge = _huge_kib(memory)
    assert huge is None or huge >= 2048, f"no huge pages backed the copy ({huge} kB)"


@pytest.mark.parametrize("rescore", ["none", "float32"])
def test_a_reopened_graph_searches_the_same_resident_or_mapped(tmp_path, monkeypatch, rescore):
    col, x = make(tmp_path, ann="hnsw", rescore=rescore)
    qs = queries_near(x, 20)
    before = [ids(col.search_vector(q, 10)) for q in qs]
    col.close()

    with Collection.open(tmp_path / "c") as again:
        index = hnsw(again)
        assert index._viewed and index._graph.resident_bytes is not None  # in RAM
        assert [ids(again.search_vector(q, 10)) for q in qs] == before
        batch = [ids(hs) for hs in again.search_vectors(qs, 10)]
        assert batch == before

    monkeypatch.setattr(resident, "RESIDENT_SHARE", 0.0)  # nothing fits: memory-mapped
    with Collection.open(tmp_path / "c") as mapped:
        index = hnsw(mapped)
        assert index._viewed and index._graph.resident_bytes is None
        assert [ids(mapped.search_vector(q, 10)) for q in qs] == before


def test_a_resident_graph_takes_writes_like_a_mapped_one(tmp_path):
    col, x = make(tmp_path, n=800, ann="hnsw")
    col.close()
    with Collection.open(tmp_path / "c") as again:
        assert hnsw(again)._graph.resident_bytes is not None
        again.add(ids=["new"], vectors=x[:1] * -1.0)
        assert again.delete(["d2"]) == 1
        assert ids(again.search_vector(x[0] * -1.0, 1)) == ["new"]
        assert "d2" not in ids(again.search_vector(x[2], 10))
    with Collection.open(tmp_path / "c") as third:
        assert ids(third.search_vector(x[0] * -1.0, 1)) == ["new"]
        assert "d2" not in ids(third.search_vector(x[2], 10))
