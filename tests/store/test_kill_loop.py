"""Real processes: SIGKILL a writer at seeded random moments, and read while others write.

After every kill the collection must open, every stored row must agree with its vector
and its BM25 postings (one commit, never half of one), and the next write must leave
no file that no commit lists. Finishing the work afterwards must give what a clean
build gives. Readers in other processes must never see an error while writers churn.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from churn import N_DOCS, text

from embedstack.encoders.hashing import HashEncoder
from embedstack.store.collection import Collection
from embedstack.types import Kind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)])}
ENCODER = HashEncoder(64)


def start(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    return proc


def check_consistent(path: Path) -> dict[str, str]:
    """Rows, vectors and the BM25 index describe the same commit; returns id -> text."""
    col = Collection.open(path, ENCODER)
    ids = col.ids()
    records = col.get(ids)
    stored = {r.id: r.text for r in records}
    if records:
        expected = ENCODER.encode([r.text for r in records], kind=Kind.DOCUMENT)
        np.testing.assert_allclose(np.stack([r.vector for r in records]), expected, atol=1e-5)
    for id_, body in list(stored.items())[:: max(1, len(stored) // 12)]:
        token = body.split()[1]  # "ver{doc}x{version}", unique to this version
        hits = col.search(token, k=1, retriever="bm25")
        assert hits and hits[0].id == id_ and hits[0].text == body, (token, hits)
        assert col.search(body, k=1)[0].id == id_
    col.delete(["no such id"])  # a write: cleans up after the killed one
    listed = {name for name, *_ in col._store.segments()}
    assert {p.name for p in (path / "vectors").glob("*")} == listed
    dirs = {d for d, _ in col._store.index_dirs().values()}
    assert {p.name for p in (path / "indexes").glob("*")} == dirs
    assert col._store.writes() == [] and col._store.trash() == []
    col.close()
    return stored


def test_sigkill_at_random_moments_never_breaks_the_collection(tmp_path):
    rng = random.Random(14)
    path = tmp_path / "c"
    Collection.create(path, ENCODER, indexes=("bm25",)).close()
    kills = 0
    for _ in range(10):
        proc = start(str(HERE / "churn.py"), str(path), str(rng.randrange(10**6)))
        time.sleep(rng.uniform(0.0, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL
        check_consistent(path)
    assert kills >= 8  # the writer was really killed mid-work, not finished
    # Finishing the work gives what a clean build gives.
    final = {str(d): text(d, 7) for d in range(N_DOCS)}
    with Collection.open(path, ENCODER) as col:
        col.upsert(list(final.values()), list(final))
        col.delete([i for i in col.ids() if i not in final])
    clean = Collection.create(tmp_path / "clean", ENCODER, indexes=("bm25",))
    clean.upsert(list(final.values()), list(final))
    resumed = Collection.open(path, ENCODER)
    assert check_consistent(path) == final
    for query in ["tea and keys", "doc5 about loans", "rivers"]:
        got = [(h.id, round(h.score, 4)) for h in resumed.search(query, k=5, retriever="bm25")]
        want = [(h.id, round(h.score, 4)) for h in clean.search(query, k=5, retriever="bm25")]
        assert got == want
        assert [h.id for h in resumed.search(query, k=5)] == [
            h.id for h in clean.search(query, k=5)
        ]


READER = """
import sys
from embedstack.store.collection import Collection
col = Collection.open(sys.argv[1], "hash:64")
print("ready", flush=True)
searches = errors = 0
while searches < int(sys.argv[2]):
    try:
        for hit in col.search("doc7 about tea", k=5) + col.search("tea keys", k=5, retriever="bm25"):
            assert hit.text.startswith(f"doc{hit.id} "), hit
        col.get(col.ids()[:20])
    except Exception as exc:
        errors += 1
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
    searches += 1
print(f"searches={searches} errors={errors}", flush=True)
"""


def test_readers_in_other_processes_never_fail_while_two_writers_churn(tmp_path):
    path = tmp_path / "c"
    with Collection.create(path, ENCODER, indexes=("bm25",)) as col:
        col.upsert([text(d, 0) for d in range(N_DOCS)], [str(d) for d in range(N_DOCS)])
    writers = [start(str(HERE / "churn.py"), str(path), str(seed), "15") for seed in (1, 2)]
    readers = [start("-c", READER, str(path), "80") for _ in range(2)]
    reports = []
    for proc in writers + readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert "damaged" not in out + err and "Traceback" not in err, out + err
        reports.append(out)
    for out in reports[2:]:  # the readers
        assert out.strip().endswith("searches=80 errors=0"), out[-2000:]
    check_consistent(path)
