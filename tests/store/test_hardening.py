"""Regression tests for issue 14 at the library level: each reproduces one failure."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3

import numpy as np
import pytest
from store_helpers import DOCS, CountingEncoder, fill

from embedstack.errors import BusyError, CollectionError, InputError, StorageError
from embedstack.store.collection import Collection
from embedstack.store.ingest import upsert_in_batches
from embedstack.store.records import HOST


def tree(path):
    """Every file with its bytes (the database's own WAL files excluded)."""
    return {
        p.relative_to(path): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "store.sqlite" not in p.name
    }


@pytest.fixture
def built(tmp_path, counting_encoder):
    path = tmp_path / "c"
    col = Collection.create(path, counting_encoder, indexes=("bm25",))
    fill(col)
    col.close()
    return path


# 1. A missing, empty or unreadable database is an error that touches nothing.
@pytest.mark.parametrize("damage", ["missing", "empty", "garbage"])
def test_a_lost_database_is_refused_and_nothing_is_deleted(built, counting_encoder, damage):
    database = built / "store.sqlite"
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (built / extra).unlink(missing_ok=True)
    if damage == "missing":
        database.unlink()
    elif damage == "empty":
        database.write_bytes(b"")
    else:
        database.write_bytes(b"not a database at all" * 100)
    before = tree(built)
    with pytest.raises(StorageError, match=r"store\.sqlite.*nothing was changed"):
        Collection.open(built, counting_encoder).search("cat", k=1)
    assert tree(built) == before
    assert (damage == "missing") == (not database.exists())  # never re-created


def test_cleanup_deletes_only_files_of_unfinished_writes(built, counting_encoder):
    mine = built / "vectors" / "notes-kept-by-hand.npy"
    mine.write_bytes(b"not listed anywhere, but nobody's unfinished write made it")
    stray = built / "indexes" / "bm25-olderformat"
    stray.mkdir()
    col = Collection.open(built, counting_encoder)
    # A write of a process that died: journalled, its file carries its id.
    dead = "INSERT INTO writes VALUES ('deadbeef0001', 999999999, ?, 0)"
    col._store.conn.execute(dead, (HOST,))
    orphan = built / "vectors" / "seg-deadbeef0001-aaaaaa.npy"
    orphan.write_bytes(b"half written")
    col.add(["one more"], ids=["x"])
    assert not orphan.exists()
    assert mine.exists() and stray.exists()
    assert col._store.writes() == []


# 3. Readers never need the write lock; embedding runs before the lock is taken.
def hold_write_lock(path, pid=None):
    conn = sqlite3.connect(path / "store.sqlite", isolation_level=None)
    if pid is not None:
        conn.execute("INSERT INTO writes VALUES ('otherwrite01', ?, ?, 0)", (pid, HOST))
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_reader_works_while_a_writer_holds_the_lock(built, counting_encoder):
    holder = hold_write_lock(built)
    try:
        col = Collection.open(built, counting_encoder)
        assert col.search(DOCS["cat"][0], k=1)[0].id == "cat"
        assert col.search("warm mat", k=1, retriever="bm25")[0].id == "cat"
        assert len(col) == 5
    finally:
        holder.execute("ROLLBACK")


class LockCheckingEncoder(CountingEncoder):
    """Fails if the collection's write lock is held while it embeds."""

    def __init__(self, path):
        super().__init__(64)
        self.path = path

    def encode_batch(self, texts, kind):
        probe = sqlite3.connect(self.path / "store.sqlite", isolation_level=None, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        finally:
            probe.close()
        return super().encode_batch(texts, kind)


def test_embedding_happens_before_the_lock(built):
    col = Collection.open(built, LockCheckingEncoder(built))
    col.add(["a brand new text"], ids=["n1"])
    col.upsert(["the cat left", "another"], ids=["cat", "n2"])
    assert col.search("another", k=1)[0].id == "n2"


def test_a_second_writer_waits_visibly_then_says_busy(built, counting_encoder, caplog):
    col = Collection.open(built, counting_encoder)
    col.lock_timeout = 0.6
    other = os.getppid()  # a live process, as the journal of a real writer would name
    holder = hold_write_lock(built, pid=other)
    seen = []
    try:
        with pytest.raises(BusyError) as info:
            col.add(["waits"], ids=["w"], progress=lambda stage, done, total: seen.append(stage))
        with caplog.at_level(logging.WARNING), pytest.raises(BusyError):
            col.delete(["cat"])  # no progress callback: the message is logged
    finally:
        holder.execute("ROLLBACK")
    message = str(info.value)
    assert "busy" in message and f"pid {other}" in message and "damaged" not in message
    assert "re-index" not in message
    assert any(f"waiting for another writer (pid {other})" in s for s in seen)
    assert f"waiting for another writer (pid {other})" in caplog.text
    col.add(["waits"], ids=["w"])  # once the lock is free the write goes through
    assert len(col) == 6


# 5. Each read sees one generation, even when another handle removes its files.
def test_a_read_retries_when_a_commit_removed_its_generation(built, counting_encoder):
    reader = Collection.open(built, counting_encoder)
    writer = Collection.open(built, counting_encoder)
    assert reader.search(DOCS["dog"][0], k=1)[0].id == "dog"  # maps generation g
    writer.delete(["tea"])
    writer.compact()  # new segment + index folder; g's files are deleted
    writer.upsert(["the cat came back"], ids=["cat"])
    assert reader.search("came back", k=1, retriever="bm25")[0].id == "cat"
    assert reader.search(DOCS["dog"][0], k=1)[0].id == "dog"
    assert reader.get(["tea"]) == []


@pytest.mark.parametrize("listing", ["segments", "index_dirs"])
def test_a_commit_between_listing_and_opening_files_is_retried(built, counting_encoder, listing):
    """The race of issue 14 (KeyError, "BM25 index file missing"), made deterministic:
    another process commits and deletes the listed files right after the read lists them."""
    reader = Collection.open(built, counting_encoder)
    writer = Collection.open(built, counting_encoder)
    original = getattr(reader._store, listing)
    fired = []

    def list_then_let_a_writer_commit():
        result = original()
        if not fired:
            fired.append(True)
            writer.upsert(["the cat came back"], ids=["cat"])
            writer.delete(["tea"])
            writer.compact()  # removes every file the reader just listed
        return result

    setattr(reader._store, listing, list_then_let_a_writer_commit)
    writer.add(["one more row"], ids=["extra"])  # so the reader must load a new generation
    retriever = "bm25" if listing == "index_dirs" else "dense"
    hits = reader.search("the cat came back", k=5, retriever=retriever)
    assert fired and hits[0].id == "cat" and "tea" not in {h.id for h in hits}


# 6. Damage on disk is detected by checksums, named, and repairable.
@pytest.mark.parametrize("value", [1e30, np.nan])
def test_a_changed_float_in_a_segment_is_detected_and_repaired(built, counting_encoder, value):
    segment = next((built / "vectors").iterdir())
    array = np.load(segment)
    array[2, 5] = value
    np.save(segment, array)
    col = Collection.open(built, counting_encoder)
    with pytest.raises(StorageError, match=rf"{segment.name} is damaged.*--rebuild-vectors"):
        col.search("cat", k=3)
    assert col.rebuild_vectors() == 5
    assert [h.id for h in col.search(DOCS["fish"][0], k=1)] == ["fish"]
    assert all(np.isfinite(h.score) for h in col.search("cat", k=5))


def test_a_damaged_index_file_names_the_file_and_the_repair(built, counting_encoder):
    index_dir = next((built / "indexes").iterdir())
    target = index_dir / "bm25.doc_len.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    col = Collection.open(built, counting_encoder)
    with pytest.raises(StorageError, match=r"bm25\.doc_len\.npy is damaged.*--rebuild-indexes"):
        col.search("cat", k=1, retriever="bm25")
    col.rebuild_index("bm25")
    assert col.search("warm mat", k=1, retriever="bm25")[0].id == "cat"


def test_flipped_bytes_in_the_database_give_a_clear_error(built, counting_encoder):
    database = built / "store.sqlite"
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(database.read_bytes())
    for at in range(2048, len(data), 97):  # leave the header, damage the pages
        data[at] ^= 0x5A
    database.write_bytes(bytes(data))
    with pytest.raises(CollectionError, match=r"store\.sqlite"):
        col = Collection.open(built, counting_encoder)
        col.search("cat", k=5)
        col.get(col.ids())


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE records SET text = CAST(X'FF41' AS TEXT)",
        "UPDATE records SET metadata = '{oops'",
        # valid JSON once joined with its neighbours (hits' metadata is decoded as one
        # array), but two values per row: must raise, never shift metadata between hits
        """UPDATE records SET metadata = '{"a": 1}, {"b": 2}'""",
    ],
)
def test_damaged_rows_in_the_database_give_a_clear_error(built, counting_encoder, damage):
    conn = sqlite3.connect(built / "store.sqlite")
    conn.execute(damage)
    conn.commit()
    conn.close()
    col = Collection.open(built, counting_encoder)
    with pytest.raises(StorageError, match=r"store\.sqlite.*(damaged|unreadable)"):
        col.search("cat", k=2)


# 7. Indexing commits batch by batch: an interrupted run keeps its finished batches.
class DyingEncoder(CountingEncoder):
    def __init__(self, after):
        super().__init__(64)
        self.after = after

    def encode_batch(self, texts, kind):
        if self.embedded >= self.after:
            raise KeyboardInterrupt
        return super().encode_batch(texts, kind)


def test_batched_indexing_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "c"
    Collection.create(path, CountingEncoder(64), indexes=())
    texts = [f"document number {i} about topic {i % 7}" for i in range(100)]
    ids = [str(i) for i in range(100)]
    dying = Collection.open(path, DyingEncoder(after=60))
    with pytest.raises(KeyboardInterrupt):
        upsert_in_batches(dying, texts, ids, [{}] * 100, max_batch=10)
    assert len(Collection.open(path)) == 60
    encoder = CountingEncoder(64)
    report = upsert_in_batches(Collection.open(path, encoder), texts, ids, [{}] * 100)
    assert encoder.embedded == 40 and len(report.unchanged) == 60 and len(report.added) == 40


# 8. A huge one-line text is cut before the encoder sees it.
class LimitedEncoder(CountingEncoder):
    def __init__(self):
        super().__init__(64)
        self.space = dataclasses.replace(self.space, max_tokens=16)
        self.lengths = []

    def encode_batch(self, texts, kind):
        self.lengths += [len(t) for t in texts]
        return super().encode_batch(texts, kind)


def test_the_encoder_gets_a_bounded_prefix_of_a_huge_text(tmp_path, caplog):
    encoder = LimitedEncoder()
    col = Collection.create(tmp_path / "c", encoder, indexes=())
    huge = "word " * 400_000  # 2 MB on one line
    with caplog.at_level(logging.WARNING):
        col.add([huge, "short"], ids=["huge", "short"])
    assert max(encoder.lengths) <= 16 * 256 and "only their start is tokenised" in caplog.text
    assert col.get(["huge"])[0].text == huge  # the stored text is whole


# 9. Small ones.
def test_an_empty_vector_file_is_a_clear_error(built, counting_encoder):
    segment = next((built / "vectors").iterdir())
    segment.write_bytes(b"")
    with pytest.raises(StorageError, match=rf"{segment.name} is (empty|damaged)"):
        Collection.open(built, counting_encoder).search("cat", k=1)


def test_manifest_edits_are_blamed_on_the_manifest(built, counting_encoder):
    import json

    manifest = built / "manifest.json"
    original = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**original, "metric": "hamming"}))
    with pytest.raises(CollectionError, match=r'"metric": \'hamming\'.*cosine, dot, euclidean'):
        Collection.open(built)
    changed = {**original, "space": {**original["space"], "dim": 32}}
    manifest.write_text(json.dumps(changed))
    with pytest.raises(StorageError, match=r"manifest\.json says the vectors are 32-d.*64-d"):
        Collection.open(built).search_vector(np.ones(32, dtype=np.float32))


def test_a_deleted_index_folder_points_to_rebuild_indexes(built, counting_encoder):
    import shutil

    shutil.rmtree(next((built / "indexes").iterdir()))
    col = Collection.open(built, counting_encoder)
    with pytest.raises(CollectionError, match=r"missing.*--rebuild-indexes") as info:
        col.search("cat", k=1, retriever="bm25")
    assert "new folder" not in str(info.value)


def test_deeply_nested_filters_are_refused(built, counting_encoder):
    where: dict = {"animal": "cat"}
    for _ in range(2000):
        where = {"$and": [where]}
    col = Collection.open(built, counting_encoder)
    with pytest.raises(InputError, match="levels deep"):
        col.search("cat", k=1, where=where)


def test_opening_does_not_write(built, counting_encoder):
    """Opening and searching leave the files alone (the database is only read)."""
    before = tree(built)
    stamp = os.stat(built / "store.sqlite").st_mtime_ns
    col = Collection.open(built, counting_encoder)
    col.search("cat", k=2)
    col.search("cat", k=2, retriever="bm25")
    assert tree(built) == before and os.stat(built / "store.sqlite").st_mtime_ns == stamp
