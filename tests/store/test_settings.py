"""Collection settings: committed like any write, seen by every reader, migrated in."""

from __future__ import annotations

import sqlite3

import pytest

from embedstack.errors import InputError
from embedstack.store import migrations
from embedstack.store.collection import Collection


def test_settings_round_trip_and_are_seen_by_another_reader(tmp_path):
    col = Collection.create(tmp_path / "c", "hash:16", indexes=())
    assert col.get_setting("fusion") is None
    col.set_setting("fusion", {"kind": "rrf", "k": 7})
    other = Collection.open(tmp_path / "c")
    assert other.get_setting("fusion") == {"kind": "rrf", "k": 7}
    col.set_setting("fusion", {"kind": "rrf", "k": 9})  # replaces, never duplicates
    assert other.get_setting("fusion") == {"kind": "rrf", "k": 9}
    with pytest.raises(InputError, match="a dict"):
        col.set_setting("fusion", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="JSON"):
        col.set_setting("fusion", {"x": object()})
    assert other.get_setting("fusion") == {"kind": "rrf", "k": 9}


def test_a_failed_write_leaves_the_setting_unchanged(tmp_path, monkeypatch):
    col = Collection.create(tmp_path / "c", "hash:16", indexes=())
    col.set_setting("fusion", {"k": 1})

    def boom(self, key, value):
        self.conn.execute("INSERT INTO settings VALUES ('other', '{}')")
        raise RuntimeError("disk full")

    monkeypatch.setattr("embedstack.store.records.RecordStore.set_setting", boom)
    with pytest.raises(RuntimeError):
        col.set_setting("fusion", {"k": 2})
    monkeypatch.undo()
    assert col.get_setting("fusion") == {"k": 1} and col.get_setting("other") is None


def test_a_version_1_database_gains_the_settings_table(tmp_path, monkeypatch):
    from embedstack.store import records

    monkeypatch.setattr(records, "MIGRATIONS", {1: migrations.MIGRATIONS[1]})
    Collection.create(tmp_path / "c", "hash:16", indexes=()).close()
    monkeypatch.undo()
    col = Collection.open(tmp_path / "c")
    col.set_setting("fusion", {"kind": "rrf"})
    conn = sqlite3.connect(tmp_path / "c" / "store.sqlite")
    assert conn.execute("SELECT MAX(number) FROM _migrations").fetchone()[0] == max(
        migrations.MIGRATIONS
    )
    conn.close()
