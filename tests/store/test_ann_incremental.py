"""HNSW saves that grow by a delta graph, and batched vector search."""

from __future__ import annotations

import numpy as np
import pytest
from test_ann import clustered, ids, make, queries_near

from embedstack.errors import CollectionError, InputError
from embedstack.store.collection import Collection
from embedstack.store.hnsw import DELTA, GRAPH, REMOVED, HnswIndex


def hnsw_dir(col: Collection):
    (folder,) = (col.path / "indexes").glob("hnsw-*")  # superseded folders are gone
    return folder


def hnsw(col: Collection) -> HnswIndex:
    col.search_vector(np.ones(col.space.dim, np.float32), 1)  # loads the index
    return col._indexes["hnsw"]  # type: ignore[return-value]


@pytest.mark.parametrize("rescore", ["none", "float32"])
def test_batched_search_returns_the_same_hits_as_one_at_a_time(tmp_path, rescore):
    col, x = make(tmp_path, ann="hnsw", rescore=rescore)
    qs = queries_near(x, 24)
    qs[3] = 0.0  # a zero query finds nothing, in both paths
    for options in ({}, {"where": {"half": 1}}, {"where": {"one": 1}}, {"exact": True}):
        batch = col.search_vectors(qs, 10, **options)
        single = [col.search_vector(q, 10, **options) for q in qs]
        assert [[(h.id, h.text, h.metadata) for h in hs] for hs in batch] == [
            [(h.id, h.text, h.metadata) for h in hs] for hs in single
        ]
        for got, want in zip(batch, single, strict=True):
            assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-6)
            assert [h.stages["dense"]["rank"] for h in got] == list(range(1, len(got) + 1))
        assert batch[3] == [] and all(len(hs) == 10 for i, hs in enumerate(batch) if i != 3)


def test_hits_of_repeated_queries_do_not_share_metadata(tmp_path):
    col, x = make(tmp_path, n=600, ann="hnsw")
    first, second = col.search_vectors(np.stack([x[0], x[0]]), 3)
    assert ids(first) == ids(second)
    first[0].metadata["seen"] = True
    assert "seen" not in second[0].metadata


def test_search_vector_takes_one_vector(tmp_path):
    col, x = make(tmp_path, n=300, ann="hnsw")
    with pytest.raises(InputError, match="search_vectors"):
        col.search_vector(x[:2], 5)
    with pytest.raises(InputError, match="dimension mismatch"):
        col.search_vectors(x[:, :8], 5)


def test_small_commits_write_a_delta_and_link_the_unchanged_base(tmp_path):
    col, x = make(tmp_path, ann="hnsw", rescore="none")
    base = hnsw_dir(col) / GRAPH
    inode = base.stat().st_ino
    extra = clustered(60, seed=5)
    col.add(ids=[f"e{i}" for i in range(60)], vectors=extra)
    folder = hnsw_dir(col)
    assert (folder / GRAPH).stat().st_ino == inode  # hard-linked, not rewritten
    assert (folder / DELTA).is_file() and not (folder / REMOVED).exists()
    assert col.delete(["d1", "e0"]) == 2
    folder = hnsw_dir(col)
    assert (folder / GRAPH).stat().st_ino == inode
    assert np.load(folder / REMOVED).tolist() == [1]  # base rows become tombstones

    qs = queries_near(x, 20)
    before = [ids(col.search_vector(q, 10)) for q in qs]
    col.close()
    again = Collection.open(tmp_path / "c")
    index = hnsw(again)
    assert index._viewed and len(index) == 2000 + 60 - 2  # the base is memory-mapped
    assert [ids(again.search_vector(q, 10)) for q in qs] == before
    assert ids(again.search_vector(extra[3], 1)) == ["e3"]
    assert "d1" not in ids(again.search_vector(x[1], 10))
    assert "e0" not in ids(again.search_vector(extra[0], 10))
    exact = [ids(again.search_vector(q, 10, exact=True)) for q in qs]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(before, exact, strict=True)])
    assert recall >= 0.95


def test_a_large_delta_is_folded_into_a_rewritten_base(tmp_path):
    col, x = make(tmp_path, n=800, ann="hnsw")
    col.add(ids=["small"], vectors=clustered(1, seed=9))
    col.delete(["d2"])
    col.close()
    again = Collection.open(tmp_path / "c")  # base memory-mapped: folding copies it first
    inode = (hnsw_dir(again) / GRAPH).stat().st_ino
    extra = clustered(300, seed=7)  # more than a quarter of the base
    again.add(ids=[f"e{i}" for i in range(300)], vectors=extra)
    folder = hnsw_dir(again)
    assert (folder / GRAPH).stat().st_ino != inode
    assert not (folder / DELTA).exists() and not (folder / REMOVED).exists()
    index = hnsw(Collection.open(tmp_path / "c"))
    assert len(index) == len(index._graph) == 800 + 1 - 1 + 300
    assert ids(again.search_vector(extra[10], 1)) == ["e10"]
    assert "d2" not in ids(again.search_vector(x[2], 10))


@pytest.mark.parametrize("name", [DELTA, REMOVED])
def test_a_damaged_delta_or_tombstone_file_is_refused(tmp_path, name):
    col, x = make(tmp_path, n=600, ann="hnsw")
    col.add(ids=["new"], vectors=clustered(1, seed=3))
    col.delete(["d5"])
    col.close()
    target = hnsw_dir(col) / name
    blob = bytearray(target.read_bytes())
    blob[-3] ^= 0xFF
    target.write_bytes(bytes(blob))
    again = Collection.open(tmp_path / "c")
    with pytest.raises(CollectionError, match=r"damaged.*rebuild_index\('hnsw'\)"):
        again.search_vector(x[0], 5)
    assert ids(again.search_vector(x[0], 5, exact=True))[0] == "d0"
    again.rebuild_index("hnsw")
    assert ids(again.search_vector(x[0], 5))[0] == "d0"


def test_crash_during_an_incremental_save_keeps_the_previous_index(tmp_path, monkeypatch):
    col, x = make(tmp_path, ann="hnsw")
    col.add(ids=["first"], vectors=clustered(1, seed=4))
    q = queries_near(x, 1)[0]
    before = ids(col.search_vector(q, 10))
    saved = HnswIndex.save

    def crash(self, directory):
        saved(self, directory)  # the delta and the linked base are in the new folder...
        raise OSError("disk full")  # ...when the write dies

    monkeypatch.setattr(HnswIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        col.add(ids=["second"], vectors=q[None, :])
    monkeypatch.undo()
    reopened = Collection.open(tmp_path / "c")
    assert len(reopened) == 2001
    assert ids(reopened.search_vector(q, 10)) == before
    assert len(list((tmp_path / "c" / "indexes").glob("hnsw-*"))) == 1
    reopened.add(ids=["second"], vectors=q[None, :])
    assert ids(reopened.search_vector(q, 1)) == ["second"]


def test_deleted_rows_are_left_out_without_filtering_the_graph(tmp_path, monkeypatch):
    col, x = make(tmp_path, n=1000, ann="hnsw", rescore="none")
    deleted = [f"d{i}" for i in range(0, 1000, 10)]
    col.delete(deleted)
    unfiltered: list[bool] = []
    original = HnswIndex.candidates_many

    def spy(self, queries, count, allowed):
        unfiltered.append(allowed is None)
        return original(self, queries, count, allowed)

    monkeypatch.setattr(HnswIndex, "candidates_many", spy)
    qs = queries_near(x, 20)
    batch = col.search_vectors(qs, 10)
    assert unfiltered == [True]  # the graph dropped them on delete: one batched walk
    assert not set(deleted) & {h.id for hits in batch for h in hits}
    assert [ids(hits) for hits in batch] == [ids(col.search_vector(q, 10)) for q in qs]
    exact = [ids(col.search_vector(q, 10, exact=True)) for q in qs]
    recall = np.mean([len(set(ids(a)) & set(b)) / 10 for a, b in zip(batch, exact, strict=True)])
    assert recall >= 0.95


def test_usearch_then_onnxruntime_does_not_crash():
    """usearch loaded before onnxruntime crashes the interpreter (SIGSEGV); every usearch
    import goes through `require_usearch`, which loads onnxruntime first."""
    import subprocess
    import sys

    code = (
        "from embedstack._optional import require_usearch\n"
        "require_usearch('a test')\n"
        "import onnxruntime\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-500:]
