"""`migrate-store`: folder -> PostgreSQL -> folder without re-embedding, resumable,
verified; and the CLI's --into/--in/migrate-store with a postgresql:// URL."""

from __future__ import annotations

import json

import numpy as np
import pytest
from store_helpers import DOCS, CountingEncoder, fill
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.errors import CollectionError, SpaceMismatchError
from embedstack.store.collection import Collection
from embedstack.store.migrate import migrate_store
from embedstack.store.pg_connect import parse_url
from pg_server import drop_collection, with_params

pytestmark = pytest.mark.service


def _rows(location):
    with Collection.open(location) as col:
        return {r.id: (r.text, r.metadata, r.vector) for r in col.get(col.ids())}, col.index_names


def test_round_trip_folder_postgres_folder(tmp_path, pg_url, monkeypatch):
    enc = CountingEncoder(64)
    with Collection.create(tmp_path / "src", enc) as col:
        fill(col)
    monkeypatch.setenv("EMBEDSTACK_MODEL", "no-such-model")  # nothing may load an encoder
    first = migrate_store(tmp_path / "src", pg_url, batch_size=2, sample=5)
    assert first.to_dict() == {"total": 5, "copied": 5, "unchanged": 0, "verified": 5}
    back = migrate_store(pg_url, tmp_path / "back")
    assert back.copied == 5 and enc.embedded == 5
    original, names = _rows(tmp_path / "src")
    copied, pg_names = _rows(pg_url)
    returned, back_names = _rows(tmp_path / "back")
    assert names == ["bm25"] and pg_names == ["fts"] and back_names == ["bm25"]
    for rows in (copied, returned):
        assert rows.keys() == original.keys()
        for id_, (text, meta, vector) in rows.items():
            assert (text, meta) == original[id_][:2]
            np.testing.assert_allclose(vector, original[id_][2], atol=1e-6)
    with Collection.open(tmp_path / "back") as col:
        assert col.search("goldfish bowl", k=1, retriever="bm25")[0].id == "fish"


def test_an_interrupted_migration_resumes(tmp_path, pg_url):
    with Collection.create(tmp_path / "src", CountingEncoder(64), indexes=()) as col:
        fill(col)

    def stop_after_first_batch(stage, done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate_store(tmp_path / "src", pg_url, batch_size=2, progress=stop_after_first_batch)
    with Collection.open(pg_url) as col:
        assert len(col) == 2
    again = migrate_store(tmp_path / "src", pg_url, batch_size=2)
    assert (again.copied, again.unchanged, again.total) == (3, 2, 5)


def test_verification_and_space_refusal(tmp_path, pg_url):
    with Collection.create(tmp_path / "src", CountingEncoder(64), indexes=()) as col:
        fill(col)
    other = pg_url
    with Collection.create(other, CountingEncoder(32), indexes=()):
        pass
    with pytest.raises(SpaceMismatchError, match="dim: 32 != 64"):
        migrate_store(tmp_path / "src", other)
    extra = with_params(pg_url, collection=parse_url(pg_url).collection + "_extra")
    with Collection.create(extra, CountingEncoder(64), indexes=()) as col:
        col.add(["a row the source does not have"], ids=["stray"])
    with pytest.raises(CollectionError, match=r"6 rows but .* has 5"):
        migrate_store(tmp_path / "src", extra)
    drop_collection(extra)


def test_cli_index_search_and_migrate_with_a_url(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBEDSTACK_MODEL", "hash:64")
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, (text, _) in DOCS.items():
        (notes / f"{name}.txt").write_text(text)
    runner = CliRunner()
    made = runner.invoke(app, ["index", str(notes), "--into", pg_url, "--json"])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    assert (
        summary["added"] == 5 and summary["total"] == 5 and "collection=" in summary["collection"]
    )
    again = runner.invoke(app, ["index", str(notes), "--into", pg_url, "--json"])
    assert json.loads(again.stdout)["unchanged"] == 5
    for retriever in ("dense", "fts", "hybrid"):
        found = runner.invoke(
            app, ["search", "goldfish bowl", "--in", pg_url, "--retriever", retriever, "--json"]
        )
        assert found.exit_code == 0, found.output
        assert json.loads(found.stdout)[0]["id"].endswith("fish.txt")
    clusters = runner.invoke(app, ["cluster", "--in", pg_url, "--k", "2", "--json"])
    assert clusters.exit_code == 0, clusters.output
    assert sum(c["size"] for c in json.loads(clusters.stdout)["clusters"]) == 5
    moved = runner.invoke(app, ["migrate-store", pg_url, str(tmp_path / "copy"), "--json"])
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["copied"] == 5
    bad = runner.invoke(app, ["search", "x", "--in", pg_url.replace("collection=", "collection=X")])
    assert bad.exit_code == 1 and "bad collection name" in bad.stderr
