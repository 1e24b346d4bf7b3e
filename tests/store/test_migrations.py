import sqlite3

from embedstack.store import migrations
from embedstack.store.records import RecordStore


def test_migrations_run_once_in_order(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    RecordStore(path).close()
    RecordStore(path).close()  # reopening applies nothing twice
    conn = sqlite3.connect(path)
    numbers = [r[0] for r in conn.execute("SELECT number FROM _migrations")]
    assert numbers == list(range(1, len(migrations.MIGRATIONS) + 1))
    conn.close()

    added = "ALTER TABLE records ADD COLUMN created TEXT"
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, added))
    store = RecordStore(path)  # an old database is brought up to date on open
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(records)")]
    assert "created" in columns
    assert migrations.applied(store.conn) == len(migrations.MIGRATIONS)
    store.close()
