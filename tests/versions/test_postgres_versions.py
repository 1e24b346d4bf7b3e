"""PostgreSQL collections have one version; migrate, alias and drop are refused clearly."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import CollectionError
from embedstack.store.collection import Collection

pytestmark = pytest.mark.service


def test_postgres_lists_one_version_and_refuses_migrate(pg_url):
    with Collection.create(pg_url, HashEncoder(16), indexes=()) as col:
        col.add(["alpha", "beta"], ids=["a", "b"])
        (only,) = col.versions()
        assert (only.name, only.rows, only.aliases, only.space["dim"]) == ("v1", 2, ["current"], 16)
        for call in (
            lambda: col.migrate(HashEncoder(8)),
            lambda: col.set_alias("current", "v1"),
            lambda: col.drop_version("v1"),
        ):
            with pytest.raises(CollectionError, match="new PostgreSQL collection"):
                call()
    with pytest.raises(CollectionError, match="folder collections only"):
        Collection.open(pg_url, version="v1")
    result = CliRunner().invoke(app, ["migrate", pg_url, "--to-model", "hash:8"])
    assert result.exit_code == 1 and "not supported for PostgreSQL" in result.stderr
    assert "Traceback" not in result.output
