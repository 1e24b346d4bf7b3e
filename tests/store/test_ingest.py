"""embed_corpus: chunked commits, resume after a real interruption, worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.store.collection import Collection
from embedstack.store.ingest import embed_corpus

SRC = Path(__file__).resolve().parents[2] / "src"
TOTAL = 3000


def corpus(n: int = TOTAL):
    return ({"id": f"d{i}", "text": f"document {i} about topic {i % 17}", "n": i} for i in range(n))


class Counting(HashEncoder):
    """Same space as HashEncoder(32); counts how many texts it really embeds."""

    def __init__(self) -> None:
        super().__init__(32)
        self.embedded = 0

    def encode_batch(self, texts, kind):
        self.embedded += len(texts)
        return super().encode_batch(texts, kind)


CHILD = textwrap.dedent(
    """
    import sys, time
    from embedstack.encoders.hashing import HashEncoder
    from embedstack.store.collection import Collection
    from embedstack.store.ingest import embed_corpus

    class Slow(HashEncoder):
        def encode_batch(self, texts, kind):
            time.sleep(0.05)
            return super().encode_batch(texts, kind)

    collection = Collection.create(sys.argv[1], Slow(32), indexes=())
    docs = ({"id": f"d{i}", "text": f"document {i} about topic {i % 17}", "n": i}
            for i in range(int(sys.argv[2])))
    embed_corpus(docs, collection, chunk_size=100, progress=False,
                 on_chunk=lambda r: print(r.read, flush=True))
    print("finished", flush=True)
    """
)


def test_resume_after_the_process_is_killed(tmp_path):
    path = tmp_path / "c.es"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(TOTAL)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == "finished" or int(line) >= 500:
            break
    child.send_signal(signal.SIGKILL)  # a real, unclean interruption mid-corpus
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    encoder = Counting()
    collection = Collection.open(path, encoder=encoder)
    done = len(collection)
    assert 500 <= done < TOTAL and done % 100 == 0  # whole chunks only
    report = embed_corpus(corpus(), collection, chunk_size=100, progress=False)
    assert report.skipped == done and report.embedded == TOTAL - done
    assert encoder.embedded == TOTAL - done  # finished chunks were not re-embedded
    assert len(collection) == TOTAL
    record = collection.get(["d2999"])[0]
    np.testing.assert_allclose(record.vector, HashEncoder(32).encode([record.text])[0], atol=1e-6)
    assert record.metadata == {"n": 2999}


def test_records_forms_and_bad_record(tmp_path):
    collection = Collection.create(tmp_path / "c.es", HashEncoder(16), indexes=())
    records = ["plain text", ("x", "tuple text"), ("y", "with meta", {"a": 1}), {"text": "dict"}]
    report = embed_corpus(records, collection, chunk_size=3, progress=False)
    assert (report.read, report.embedded, report.chunks) == (4, 4, 2)
    assert sorted(collection.ids()) == ["0", "3", "x", "y"]
    assert collection.get(["y"])[0].metadata == {"a": 1}
    with pytest.raises(InputError, match="record 1 has no 'text'"):
        embed_corpus([{"text": "ok"}, {"body": "no text"}], collection, progress=False)


@pytest.mark.slow
def test_worker_processes_give_the_same_vectors(tmp_path):
    collection = Collection.create(tmp_path / "c.es", "hash:32", indexes=())
    report = embed_corpus(corpus(200), collection, chunk_size=64, workers=2, progress=False)
    assert report.embedded == 200 and len(collection) == 200
    record = collection.get(["d7"])[0]
    np.testing.assert_allclose(record.vector, HashEncoder(32).encode([record.text])[0], atol=1e-6)
