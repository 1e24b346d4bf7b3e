import sqlite3

import pytest

from embedstack.errors import StorageError
from embedstack.store import migrations
from embedstack.store.records import RecordStore


def test_migrations_run_once_in_order(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    RecordStore(path, create=True).close()
    RecordStore(path).close()  # reopening applies nothing twice
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT number FROM _migrations")] == sorted(
        migrations.MIGRATIONS
    )
    conn.close()

    added = {**migrations.MIGRATIONS, 9: "ALTER TABLE records ADD COLUMN created TEXT"}
    monkeypatch.setattr(migrations, "MIGRATIONS", added)
    from embedstack.store import records

    monkeypatch.setattr(records, "MIGRATIONS", added)
    store = RecordStore(path)  # an old database is brought up to date on open
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(records)")]
    assert "created" in columns
    assert [r[0] for r in store.conn.execute("SELECT number FROM _migrations")] == [1, 2, 3, 9]
    assert migrations.applied(store.conn) == 9
    store.close()


def test_a_lower_number_merged_later_still_runs(tmp_path, monkeypatch):
    from embedstack.store import records

    path = tmp_path / "store.sqlite"
    without_2 = {n: sql for n, sql in migrations.MIGRATIONS.items() if n != 2}
    monkeypatch.setattr(records, "MIGRATIONS", without_2)
    RecordStore(path, create=True).close()  # a database made before migration 2 existed
    monkeypatch.setattr(records, "MIGRATIONS", migrations.MIGRATIONS)
    store = RecordStore(path)
    assert [r[0] for r in store.conn.execute("SELECT number FROM _migrations")] == [1, 2, 3]
    assert store.setting("fusion") is None  # the settings table exists now
    store.close()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "store.sqlite"
    RecordStore(path, create=True).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations VALUES (99, 'later')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match=r"newer embedstack \(schema migration 99.*upgrade"):
        RecordStore(path)
    assert path.read_bytes() == before


def test_an_old_database_is_migrated_only_when_needed(tmp_path, monkeypatch):
    """Opening an up-to-date database takes no write lock (a reader never waits)."""
    path = tmp_path / "store.sqlite"
    RecordStore(path, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        store = RecordStore(path)  # does not wait for the lock, does not fail
        assert store.count() == 0
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
