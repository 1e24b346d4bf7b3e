import pytest

from .conftest import make_app

pytestmark = pytest.mark.anyio


DOCS = [
    {"id": "a", "text": "the cat sat on the mat", "metadata": {"lang": "en", "year": 2020}},
    {"id": "b", "text": "dogs bark at the postman", "metadata": {"lang": "en", "year": 2022}},
    {"id": "c", "text": "le chat dort sur le tapis", "metadata": {"lang": "fr", "year": 2021}},
]


async def test_collection_lifecycle(api):
    r = await api.post("/v1/collections", json={"name": "pets"})
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 0 and r.json()["dim"] == 32
    assert (await api.post("/v1/collections", json={"name": "pets"})).status_code == 409

    r = await api.post("/v1/collections/pets/documents", json={"documents": DOCS})
    assert r.status_code == 200, r.text
    assert r.json() == {"ids": ["a", "b", "c"], "count": 3}

    r = await api.post("/v1/collections/pets/search", json={"query": "cat on a mat", "k": 2})
    hits = r.json()["hits"]
    assert hits[0]["id"] == "a" and len(hits) == 2 and hits[0]["score"] >= hits[1]["score"]
    ranks = [stage["rank"] for hit in hits for stage in hit["stages"].values()]
    assert ranks and all(type(rank) is int for rank in ranks)  # a rank is never 1.0

    r = await api.post(
        "/v1/collections/pets/search", json={"query": "cat", "k": 5, "where": {"lang": "fr"}}
    )
    assert [h["id"] for h in r.json()["hits"]] == ["c"]

    r = await api.get("/v1/collections/pets/documents/b")
    assert r.json() == {"id": "b", "text": DOCS[1]["text"], "metadata": DOCS[1]["metadata"]}
    assert (await api.get("/v1/collections/pets/documents/zzz")).status_code == 404

    r = await api.post("/v1/collections/pets/documents/delete", json={"ids": ["b"]})
    assert r.json() == {"deleted": 1}
    assert (await api.get("/v1/collections/pets")).json()["count"] == 2
    assert [c["name"] for c in (await api.get("/v1/collections")).json()["data"]] == ["pets"]
    assert (await api.delete("/v1/collections/pets")).status_code == 200
    assert (await api.get("/v1/collections/pets")).status_code == 404


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "x" * 65])
async def test_names_cannot_reach_other_paths(api, name):
    r = await api.post("/v1/collections", json={"name": name})
    assert r.status_code == 400
    r = await api.get(f"/v1/collections/{name}")
    assert r.status_code in (400, 404)


async def test_unknown_collection_and_bad_bodies(api):
    r = await api.post("/v1/collections/nope/search", json={"query": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
    await api.post("/v1/collections", json={"name": "c1"})
    r = await api.post("/v1/collections/c1/search", json={"query": "x", "k": 0})
    assert r.status_code == 400
    r = await api.post("/v1/collections/c1/documents", json={"documents": []})
    assert r.status_code == 400
    r = await api.post(
        "/v1/collections/c1/documents", json={"documents": [{"text": "no id"}], "mode": "upsert"}
    )
    assert r.status_code == 400 and "id" in r.json()["error"]["message"]
    r = await api.post("/v1/collections/c1/search", json={"query": "x", "retriever": "nonsense"})
    assert r.status_code == 400


class _LengthReranker:
    """Scores a passage by its length: deterministic, and a different order than dense."""

    stage = "rerank"

    def rerank(self, query, hits, k=None):
        import numpy as np

        from embedstack.search.rerank import apply_scores

        return apply_scores(hits, np.array([len(h.text) for h in hits], dtype=float), "rerank", k)

    def config(self):
        return {}


async def test_hybrid_and_rerank_search(tmp_path):
    import httpx

    app = make_app(collections_dir=tmp_path / "cols")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        await api.post("/v1/collections", json={"name": "pets"})
        await api.post("/v1/collections/pets/documents", json={"documents": DOCS})
        r = await api.post(
            "/v1/collections/pets/search", json={"query": "cat mat", "retriever": "hybrid"}
        )
        assert r.status_code == 200, r.text
        hit = r.json()["hits"][0]
        assert hit["id"] == "a" and {"dense", "bm25", "fusion"} <= set(hit["stages"])

        r = await api.post("/v1/collections/pets/search", json={"query": "cat", "rerank": True})
        assert r.status_code == 400 and r.json()["error"]["code"] == "reranker_not_configured"

        app.state.settings.reranker = tmp_path / "configured-at-start-up"
        app.state.reranker = _LengthReranker()
        r = await api.post(
            "/v1/collections/pets/search",
            json={"query": "cat", "k": 3, "retriever": "hybrid+rerank"},
        )
        hits = r.json()["hits"]
        assert [h["id"] for h in hits] == ["c", "b", "a"]  # longest text first
        assert all("rerank" in h["stages"] and "fusion" in h["stages"] for h in hits)
        r = await api.post(
            "/v1/collections/pets/search", json={"query": "cat", "k": 2, "rerank": True}
        )
        assert [h["id"] for h in r.json()["hits"]] == ["c", "b"]
        assert set(r.json()["hits"][0]["stages"]) == {"dense", "rerank"}


@pytest.mark.torch
async def test_create_with_an_index_model_fixed_at_start_up(tmp_path):
    import httpx
    from tiny_models import make_tiny_model

    make_tiny_model(tmp_path / "mlm", "bert-mlm")
    app = make_app(collections_dir=tmp_path / "cols")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        r = await api.post("/v1/collections", json={"name": "s", "indexes": ["splade"]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "index_not_configured"
        app.state.settings.index_models = {"splade": tmp_path / "mlm"}
        r = await api.post("/v1/collections", json={"name": "s", "indexes": ["splade"]})
        assert r.status_code == 201, r.text
        await api.post("/v1/collections/s/documents", json={"documents": DOCS})
        r = await api.post("/v1/collections/s/search", json={"query": "cat", "retriever": "splade"})
        assert r.status_code == 200 and r.json()["hits"], r.text
        assert "splade" in r.json()["hits"][0]["stages"]
