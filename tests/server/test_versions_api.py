"""Read-only version and drift endpoints, and a served collection following `current`."""

import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.store.collection import Collection

pytestmark = pytest.mark.anyio


DOCS = [{"id": f"d{i}", "text": f"note {i} about topic {i % 4} and word w{i}"} for i in range(30)]


async def test_versions_endpoint_and_alias_switch_are_served(api, tmp_path):
    assert (await api.post("/v1/collections", json={"name": "kb"})).status_code == 201
    r = await api.post("/v1/collections/kb/documents", json={"documents": DOCS})
    assert r.status_code == 200, r.text
    r = await api.get("/v1/collections/kb/versions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["collection"] == "kb" and body["current"] == "v1"
    (v1,) = body["versions"]
    assert (v1["name"], v1["rows"], v1["state"], v1["aliases"]) == ("v1", 30, "ready", ["current"])
    assert v1["space"]["dim"] == 32 and "folder" not in v1

    folder = tmp_path / "cols" / "kb"
    with Collection.open(folder) as col:
        col.migrate(HashEncoder(16))
        col.set_alias("current", "v2")
    info = (await api.get("/v1/collections/kb")).json()
    assert info["dim"] == 16 and info["count"] == 30  # the served collection followed
    body = (await api.get("/v1/collections/kb/versions")).json()
    assert body["current"] == "v2" and [v["rows"] for v in body["versions"]] == [30, 30]
    r = await api.post("/v1/collections/kb/search", json={"query": "topic 1", "k": 3})
    assert r.status_code == 200 and len(r.json()["hits"]) == 3
    # writes through the server reach the previous version too (rollback stays safe)
    await api.post("/v1/collections/kb/documents", json={"documents": [{"id": "x", "text": "y"}]})
    with Collection.open(folder, version="v1") as old:
        assert "x" in old.ids()


async def test_drift_endpoint_is_read_only_history(api, tmp_path):
    from embedstack.drift import track

    assert (await api.post("/v1/collections", json={"name": "kb"})).status_code == 201
    await api.post("/v1/collections/kb/documents", json={"documents": DOCS})
    r = await api.get("/v1/collections/kb/drift")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "collection": "kb", "version": "v1", "profile": None, "drift": None, "snapshots": []
    }  # fmt: skip
    assert not (tmp_path / "cols" / "kb" / "drift").exists()  # reading changed nothing

    with Collection.open(tmp_path / "cols" / "kb") as col:
        track(col)  # the first run profiles
        track(col, [d["text"] for d in DOCS[:20]], source="resample")
    body = (await api.get("/v1/collections/kb/drift")).json()
    assert body["profile"]["rows"] == 30 and len(body["snapshots"]) == 1
    assert body["snapshots"][0]["source"] == "resample"
    assert body["drift"] == body["snapshots"][0]["drift"]
