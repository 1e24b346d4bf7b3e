"""PostgreSQL-only behaviour: settings in the URL, halfvec storage, iterative scans,
bad input (one-line errors naming the fix), concurrent writer processes."""

from __future__ import annotations

import multiprocessing
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
from store_helpers import DOCS, CountingEncoder, fill

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import CollectionError, InputError
from embedstack.store import pg_writes
from embedstack.store.changes import content_hash
from embedstack.store.collection import Collection
from embedstack.store.migrate import migrate_store
from embedstack.store.pg_connect import parse_url
from embedstack.types import Kind
from pg_server import drop_collection, with_params

pytestmark = pytest.mark.service


def admin(url: str):
    return psycopg.connect(parse_url(url).conninfo, autocommit=True)


def test_url_settings_reach_the_hnsw_index_and_the_password_is_hidden(pg_url):
    url = with_params(pg_url, m="8", ef_construction="32", ef_search="20")
    with Collection.create(url, HashEncoder(16), indexes=()) as col:
        assert "collection=" in col.path
        name = parse_url(url).collection
        with admin(url) as conn:
            definition = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
                (name, "%hnsw%"),
            ).fetchone()[0]
        assert "vector_cosine_ops" in definition
        assert "m='8'" in definition and "ef_construction='32'" in definition
    cover = with_params(pg_url, collection=name + "_cd", fts_rank="ts_rank_cd")
    with Collection.create(cover, HashEncoder(16)) as col:
        assert col.manifest.indexes["fts"] == {"config": "english", "rank": "ts_rank_cd"}
        col.add(["cats purr", "dogs bark loudly at cats"], ids=["a", "b"])
        assert [h.id for h in col.search("cats", k=2, retriever="fts")] == ["a", "b"]
    drop_collection(cover)
    shown = parse_url("postgresql://me:secret@db:5432/kb?collection=kb&sslmode=require")
    assert "secret" not in shown.display and "sslmode=require" in shown.display


def test_halfvec_storage_and_dot_metric(pg_url):
    url = with_params(pg_url, storage="halfvec")
    enc = CountingEncoder(64)
    with Collection.create(url, enc, indexes=(), metric="dot") as col:
        fill(col)
        stored = col.get(["cat"])[0].vector
        exact = enc.encode([DOCS["cat"][0]], kind=Kind.DOCUMENT)[0]
        np.testing.assert_allclose(stored, exact, atol=2e-3)
        assert not np.array_equal(stored, exact)  # really stored as 16-bit floats
        hit = col.search(DOCS["cat"][0], k=1)[0]
        assert hit.id == "cat" and hit.score == pytest.approx(1.0, abs=2e-3)


def test_bit_storage_keeps_signs_and_ranks_by_hamming(pg_url, tmp_path):
    url = with_params(pg_url, storage="bit")
    enc = CountingEncoder(64)
    with Collection.create(tmp_path / "src", enc, indexes=()) as col:
        fill(col)
    assert migrate_store(tmp_path / "src", url).verified == 5  # signs compared
    with Collection.open(url) as col:
        stored = col.get(["cat"])[0].vector
        exact = enc.encode([DOCS["cat"][0]], kind=Kind.DOCUMENT)[0]
        np.testing.assert_array_equal(stored > 0, exact > 0)
        np.testing.assert_allclose(np.abs(stored), 1 / 8)  # unit sign vector, d = 64
        hits = col.search(DOCS["cat"][0], k=5)
        assert hits[0].id == "cat" and hits[0].score == 1.0
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert [h.id for h in col.search("cat", k=5, where={"year": "2022"})] == ["tea"]


def test_filtered_queries_return_k_hits_past_ef_search(pg_url):
    url = with_params(pg_url, ef_search="10")
    enc = HashEncoder(32)
    texts = [f"document number {i} about topic {i % 7}" for i in range(300)]
    with Collection.create(url, enc, indexes=()) as col:
        col.add(
            texts, ids=[str(i) for i in range(300)], metadata=[{"g": i % 3} for i in range(300)]
        )
        few = col.search("topic 3", k=10, where={"g": 2})  # k within ef_search: session setting
        assert len(few) == 10 and all(h.metadata["g"] == 2 for h in few)
        hits = col.search("topic 3", k=50, where={"g": 1})
        assert len(hits) == 50 and all(h.metadata["g"] == 1 for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def hnsw_definition(url: str) -> str | None:
    with admin(url) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            (parse_url(url).collection, "%hnsw%"),
        ).fetchone()
    return None if row is None else row[0]


def test_bulk_copy_reports_progress_and_builds_the_index_once(pg_url, monkeypatch):
    monkeypatch.setattr(pg_writes, "BUILD_AFTER_ROWS", 2000)
    enc = HashEncoder(8)
    seen = []
    with Collection.create(pg_url, enc, indexes=()) as col:
        before = hnsw_definition(pg_url)
        vectors = np.random.default_rng(0).normal(size=(2500, 8)).astype(np.float32)
        ids = [f"v{i}" for i in range(2500)]
        written = col.upsert_vectors(ids, ids, vectors, progress=lambda *a: seen.append(a))
        assert written == 2500 and len(col) == 2500
        assert seen[0] == ("copy", 1000, 2500) and seen[-1] == ("copy", 2500, 2500)
        assert ("index", 0, None) in seen  # dropped for the load, built once after
        assert hnsw_definition(pg_url) == before
        assert col.search_vector(vectors[42], k=1)[0].id == "v42"
        seen.clear()
        more = [f"w{i}" for i in range(2500)]
        col.upsert_vectors(more, more, vectors, progress=lambda *a: seen.append(a))
        assert ("index", 0, None) not in seen and len(col) == 5000  # not empty: kept
        np.testing.assert_allclose(col.get(["v7"])[0].vector, vectors[7], rtol=1e-6)
        with pytest.raises(InputError, match="holds 8-d vectors"):
            col.upsert_vectors(["x"], ["x"], np.ones((1, 9), dtype=np.float32))


def test_parameters_are_bound_never_spliced(pg_url):
    nasty = "x'); DROP TABLE embedstack_collections; --"
    with Collection.create(pg_url, HashEncoder(16)) as col:
        col.add([nasty], ids=[nasty], metadata=[{nasty: nasty}])
        assert col.search("x", k=1, where={nasty: nasty})[0].id == nasty
        assert col.search("drop table", k=1, retriever="fts")[0].id == nasty
    assert Collection.open(pg_url).ids() == [nasty]


def test_bad_urls_and_names(pg_url):
    with pytest.raises(InputError, match=r"add \?collection=NAME"):
        parse_url("postgresql://u@h/db")
    for name in ("Kb", "1kb", "kb;drop", "embedstack_collections", "a" * 64):
        with pytest.raises(InputError, match="bad collection name"):
            parse_url(f"postgresql://u@h/db?collection={name}")
    with pytest.raises(InputError, match="fts_rank= must be one of ts_rank, ts_rank_cd"):
        parse_url("postgresql://u@h/db?collection=kb&fts_rank=bm25")
    with pytest.raises(InputError, match="ef_search= must be a whole number"):
        parse_url("postgresql://u@h/db?collection=kb&ef_search=lots")
    with pytest.raises(InputError, match="full-text search"):
        Collection.create(pg_url, HashEncoder(8), indexes=["splade"])


def test_unreachable_server_is_one_line(tmp_path):
    url = f"postgresql://nobody@/db?host={tmp_path}&collection=kb"
    with pytest.raises(CollectionError, match="cannot connect to PostgreSQL") as info:
        Collection.open(url)
    assert "\n" not in str(info.value) and "server is running" in str(info.value)


def test_missing_collection_and_foreign_table(pg_url):
    with pytest.raises(CollectionError, match="embedstack index YOUR_FILES --into"):
        Collection.open(pg_url)
    name = parse_url(pg_url).collection
    with admin(pg_url) as conn:
        conn.execute(f"CREATE TABLE {name} (id int)")
    for call in (lambda: Collection.open(pg_url), lambda: Collection.create(pg_url, "hash:8")):
        with pytest.raises(CollectionError, match=r"not an embedstack collection.*another"):
            call()


def test_a_tampered_catalogue_is_refused(pg_url):
    Collection.create(pg_url, HashEncoder(16), indexes=()).close()
    with admin(pg_url) as conn:
        conn.execute(
            "UPDATE embedstack_collections SET settings = settings || %s WHERE name = %s",
            ('{"storage": "vector(3); DROP TABLE x"}', parse_url(pg_url).collection),
        )
    with pytest.raises(CollectionError, match="not an embedstack collection"):
        Collection.open(pg_url)


def test_wrong_dimension_of_an_existing_table(pg_url):
    Collection.create(pg_url, HashEncoder(16), indexes=()).close()
    name = parse_url(pg_url).collection
    with admin(pg_url) as conn:
        conn.execute(f"ALTER TABLE {name} ALTER COLUMN embedding TYPE vector(32)")
    with pytest.raises(CollectionError, match=r"stores vector\(32\).*needs vector\(16\)"):
        Collection.open(pg_url)


def test_missing_extension_names_create_extension(pg_url):
    """A role that may not create extensions, in a database without pgvector."""
    with admin(pg_url) as conn:
        conn.execute("DROP DATABASE IF EXISTS es_noext")
        conn.execute("DROP ROLE IF EXISTS es_plain")
        conn.execute("CREATE ROLE es_plain LOGIN PASSWORD 'es_plain'")
        conn.execute("CREATE DATABASE es_noext OWNER es_plain")
    parts = urlsplit(pg_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urlunsplit(parts._replace(netloc=f"es_plain:es_plain@{host}", path="/es_noext"))
    try:
        for call in (lambda: Collection.create(url, "hash:8"), lambda: Collection.open(url)):
            with pytest.raises(CollectionError, match="CREATE EXTENSION vector"):
                call()
    finally:
        with admin(pg_url) as conn:
            conn.execute("DROP DATABASE es_noext")
            conn.execute("DROP ROLE es_plain")


def test_a_text_changed_by_another_writer_mid_upsert_is_not_overwritten_blindly(pg_url):
    col = Collection.create(pg_url, HashEncoder(16), indexes=())
    col.add(["first text"], ids=["a"], metadata=[{"v": 1}])
    lookup, calls = col._lookup, []

    def racing_lookup(ids):
        found = lookup(ids)
        if not calls:  # another process rewrites the text right after our read
            with Collection.open(pg_url) as other:
                other.upsert(["rewritten"], ids=["a"])
        calls.append(ids)
        return found

    col._lookup = racing_lookup
    report = col.upsert(["first text"], ids=["a"], metadata=[{"v": 2}])
    assert len(calls) == 2 and report.updated == ["a"]  # redone: the text is ours again
    record = col.get(["a"])[0]
    assert (record.text, record.metadata) == ("first text", {"v": 2})
    col.close()


def _writer(url: str, worker: int, shared: list[str]) -> None:
    col = Collection.open(url, HashEncoder(32))
    for step in range(10):
        ids = [f"w{worker}-{step}-{j}" for j in range(5)]
        col.add([f"text {i}" for i in ids], ids=ids, metadata=[{"worker": worker}] * 5)
        col.upsert([f"shared {s} by {worker} at {step}" for s in shared], ids=shared)
    col.close()


def test_concurrent_writer_processes_lose_nothing(pg_url):
    shared = [f"s{i}" for i in range(5)]
    Collection.create(pg_url, HashEncoder(32), indexes=()).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(pg_url, w, shared)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=300)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    with Collection.open(pg_url) as col:
        assert len(col) == 4 * 10 * 5 + len(shared)
        records = col.get(col.ids())
        assert len(records) == 205
        encoder = HashEncoder(32)
        for record in records:  # every row is whole: its vector is its own text's
            expected = encoder.encode([record.text], kind=Kind.DOCUMENT)[0]
            np.testing.assert_allclose(record.vector, expected, atol=1e-6)
        with admin(pg_url) as conn:
            rows = conn.execute(f"SELECT text, hash FROM {parse_url(pg_url).collection}")
            assert all(content_hash(text) == digest for text, digest in rows)
        assert {r.text.rsplit(" at ", 1)[1] for r in records if r.id in shared} == {"9"}
