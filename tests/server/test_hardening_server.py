"""Regression tests for issue 14 through the server: strict names, busy and damaged
collections answered with valid JSON errors, never a 500 without a reason."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from .conftest import make_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path):
    import httpx

    app = make_app(collections_dir=tmp_path / "cols")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/v1/collections", json={"name": "kb"})
        assert r.status_code == 201, r.text
        docs = [{"id": "a", "text": "the cat sat"}, {"id": "b", "text": "dogs bark"}]
        r = await c.post("/v1/collections/kb/documents", json={"documents": docs})
        assert r.status_code == 200, r.text
        yield c


async def test_a_trailing_newline_is_not_a_valid_name(api):
    r = await api.get("/v1/collections/kb%0A")
    assert r.status_code == 400 and "invalid collection name" in r.json()["error"]["message"]
    assert (await api.get("/v1/collections/kb")).status_code == 200


async def test_a_busy_collection_answers_503(api, tmp_path, monkeypatch):
    from embedstack.store.collection import Collection

    original = Collection.__init__

    def short_wait(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.lock_timeout = 0.3

    monkeypatch.setattr(Collection, "__init__", short_wait)
    holder = sqlite3.connect(tmp_path / "cols" / "kb" / "store.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # A fresh server process: its collection handle is opened while the lock is held.
        app = make_app(collections_dir=tmp_path / "cols")
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            r = await other.post("/v1/collections/kb/search", json={"query": "cat", "k": 1})
            assert r.status_code == 200, r.text  # reads never wait for the writer
            docs = [{"id": "c", "text": "birds sing"}]
            r = await other.post("/v1/collections/kb/documents", json={"documents": docs})
    finally:
        holder.execute("ROLLBACK")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "busy" in r.json()["error"]["message"]


async def test_a_damaged_segment_is_a_clear_json_error(api, tmp_path):
    segment = next((tmp_path / "cols" / "kb" / "vectors").iterdir())
    array = np.load(segment)
    array[0, 0] = np.nan
    np.save(segment, array)
    app = make_app(collections_dir=tmp_path / "cols")
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        r = await other.post("/v1/collections/kb/search", json={"query": "cat", "k": 2})
    assert r.status_code == 500
    body = json.loads(r.text)  # valid JSON, no NaN
    assert segment.name in body["error"]["message"] and body["error"]["code"] == "storage_damaged"
