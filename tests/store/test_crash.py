"""Crash safety: a failure or a hard kill between any two writes leaves the previous
state readable, and the files of the interrupted write are cleaned up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from store_helpers import fill
from tiny_index import KeywordIndex

from embedstack.store import flat, records
from embedstack.store.collection import Collection

ROOT = Path(__file__).resolve().parents[2]


def snapshot(col):
    return (
        col.ids(),
        [(r.id, r.text, r.metadata) for r in col.get(col.ids())],
        [h.id for h in col.search("the cat", k=5)],
        [h.id for h in col.search("the cat", k=5, retriever="kw")],
    )


def files(path):
    return sorted(p.relative_to(path) for p in path.rglob("*") if "store.sqlite" not in p.name)


class BoomError(RuntimeError):
    pass


def _fail(*args, **kwargs):
    raise BoomError("simulated crash")


def _after(original):
    def wrapped(*args, **kwargs):
        original(*args, **kwargs)
        raise BoomError("simulated crash after the write")

    return wrapped


FAILURES = {
    "after the vector segment is written": (flat.FlatVectors, "write_segment", "after"),
    "while the index is saved": (KeywordIndex, "save", "after"),
    "when rows are inserted": (records.RecordStore, "insert", "fail"),
    "just before the commit": (records.RecordStore, "bump_generation", "fail"),
}
ALL = ("add", "upsert", "delete", "compact")
# Which operations go through each failure point.
CASES = [
    (where, op)
    for where, ops in {
        "after the vector segment is written": ("add", "upsert", "compact"),
        "while the index is saved": ALL,
        "when rows are inserted": ("add", "upsert"),
        "just before the commit": ALL,
    }.items()
    for op in ops
]


@pytest.mark.parametrize(("where", "operation"), CASES)
def test_failure_between_writes_keeps_the_old_state(
    tmp_path, counting_encoder, kw_index, monkeypatch, where, operation
):
    path = tmp_path / "c"
    col = Collection.create(path, counting_encoder, indexes=("kw",))
    fill(col)
    col.delete(["tea"])  # so compact has work to do
    before, before_files = snapshot(col), files(path)
    owner, name, how = FAILURES[where]
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, _after(original) if how == "after" else _fail)
    change = {
        "add": lambda: col.add(["the cat came back"], ids=["new"]),
        "upsert": lambda: col.upsert(["the cat left", "new"], ids=["cat", "x"]),
        "delete": lambda: col.delete(["cat"]),
        "compact": col.compact,
    }[operation]
    with pytest.raises(BoomError):
        change()
    assert snapshot(col) == before  # the same object is still consistent
    assert files(path) == before_files  # the interrupted write left nothing behind
    monkeypatch.setattr(owner, name, original)
    assert snapshot(Collection.open(path, counting_encoder)) == before


SCRIPT = """
import os, sys
from embedstack import atomic
from tiny_index import KeywordIndex
from embedstack.store import commit, indexes, records
from embedstack.store.collection import Collection

indexes.INDEX_TYPES["kw"] = KeywordIndex
col = Collection.open(sys.argv[1], "hash:64")
die = lambda *a, **k: os._exit(3)
point = sys.argv[2]
if point == "mid-segment":
    atomic.os.replace = die  # the temp file is written, never renamed
elif point == "before-commit":
    records.RecordStore.bump_generation = die
elif point == "after-commit":
    commit.remove = die  # committed, superseded index folder not yet removed
col.upsert(["the cat came back", "The cat sat on the warm mat by the fire"], ids=["new", "cat"])
"""


@pytest.mark.parametrize("point", ["mid-segment", "before-commit", "after-commit"])
def test_killed_process_leaves_a_readable_collection(tmp_path, counting_encoder, kw_index, point):
    path = tmp_path / "c"
    fill(Collection.create(path, counting_encoder, indexes=("kw",)))
    before = snapshot(Collection.open(path, counting_encoder))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests" / "store")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), point],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    leftovers = files(path)
    col = Collection.open(path, counting_encoder)
    after = snapshot(col)
    if point == "after-commit":
        assert after[0] == [*before[0], "new"]
        assert col.search("came back", k=1, retriever="kw")[0].id == "new"
    else:
        assert after == before
    assert files(path) == leftovers  # opening and reading change nothing on disk
    col.delete(["no such id"])  # the next write cleans up under the write lock
    assert len(files(path)) < len(leftovers)
    assert len(list((path / "indexes").iterdir())) == 1
    assert len(list((path / "vectors").iterdir())) == len(col._vectors.segments)
