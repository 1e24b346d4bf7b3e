"""embed-corpus into a PostgreSQL collection: same vectors as the Parquet path, and a
re-run skips every finished unit."""

from __future__ import annotations

import pytest
from distributed_helpers import assert_same, by_id, parquet_output

from embedstack.distributed import embed_shards
from embedstack.store.collection import Collection

pytestmark = pytest.mark.service
MODEL = "hash:32"


def test_units_land_in_postgres_once_and_match_parquet(corpus, tmp_path, pg_url):
    first = embed_shards([corpus], pg_url, MODEL, unit_rows=50, state=tmp_path / "state")
    assert first.summary()["embedded"] == 240 and first.summary()["failed"] == 0
    again = embed_shards([corpus], pg_url, MODEL, unit_rows=50, state=tmp_path / "state")
    assert again.summary()["embedded"] == 0 and again.summary()["skipped"] == 240

    embed_shards([corpus], tmp_path / "parquet", MODEL, unit_rows=50)
    want = by_id(*parquet_output(tmp_path / "parquet"))
    with Collection.open(pg_url) as collection:
        assert len(collection) == 240
        got = {r.id: r.vector for r in collection.get(collection.ids())}
    assert_same(got, want)


def test_a_database_destination_needs_a_state_folder(corpus, pg_url):
    from embedstack.errors import InputError

    with pytest.raises(InputError, match="--state"):
        embed_shards([corpus], pg_url, MODEL)
