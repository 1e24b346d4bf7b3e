"""The browser page: its JSON API through a test client, and the page itself in a real
browser (Debian's chromium driven by Playwright; never Playwright's own download)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from embedstack.apps.images import index_images
from embedstack.search.pipeline import Pipeline
from embedstack.server.ui import create_ui_app
from embedstack.store.collection import Collection
from live_server import running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DOCS = {
    "keys": "Rotate the API keys every 90 days and revoke old keys.",
    "disk": "Error E1234 means the disk is full; delete old logs.",
    "vpn": "Connect to the VPN before opening the admin console.",
    "backup": "Backups run nightly; restore them with the restore command.",
    "rotate": "To rotate logs, edit the logrotate configuration.",
}


@pytest.fixture
def ui_root(tmp_path: Path, dual_models, sample_images) -> Path:
    """A folder with a text collection (hash encoder + BM25) and an image collection."""
    root = tmp_path / "collections"
    root.mkdir()
    with Collection.create(root / "text.es", "hash:32") as text:
        text.add(list(DOCS.values()), ids=list(DOCS))
    index_images(sample_images, root / "photos.es", dual_models["clip"][0])
    return root


def _b64(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.mark.torch
def test_ui_api(ui_root: Path, sample_images: Path) -> None:
    client = TestClient(create_ui_app(ui_root))
    page = client.get("/ui/")
    assert page.status_code == 200 and "/ui/static/app.js" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/ui/static/{name}").status_code == 200
    assert client.get("/ui/static/..%2fserver.py").status_code == 404
    listed = {c["name"]: c for c in client.get("/ui/api/collections").json()}
    assert listed["text.es"]["kind"] == "text" and listed["photos.es"]["kind"] == "image"
    assert listed["text.es"]["retrievers"] == ["dense", "bm25", "hybrid"]  # no reranker given

    body = {"collection": "text.es", "query": "rotate keys", "retriever": "hybrid", "k": 3}
    hits = client.post("/ui/api/search", json=body).json()["hits"]
    with Collection.open(ui_root / "text.es") as collection:
        expected = Pipeline.from_spec(collection, "hybrid").search("rotate keys", k=3)
    assert [h["id"] for h in hits] == [h.id for h in expected]
    assert set(hits[0]["stages"]) >= {"dense", "bm25", "fusion"}

    body = {"collection": "photos.es", "image": _b64(sample_images / "astronaut.png")}
    hits = client.post("/ui/api/search-image", json=body).json()["hits"]
    assert hits[0]["id"] == "astronaut.png" and hits[0]["thumbnail"].startswith("/ui/thumb/")
    thumb = client.get(hits[0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert client.get("/ui/thumb/photos.es/thumbnails/../manifest.json").status_code == 404
    assert client.get("/ui/thumb/photos.es/manifest.json").status_code == 404

    bad = client.post("/ui/api/search-image", json={"collection": "photos.es", "image": "!!"})
    assert bad.status_code == 400 and "base64" in bad.json()["error"]
    junk = base64.b64encode(b"not an image").decode()
    bad = client.post("/ui/api/search-image", json={"collection": "photos.es", "image": junk})
    assert bad.status_code == 400 and "not an image" in bad.json()["error"]
    bad = client.post("/ui/api/search", json={**body, "query": "x", "retriever": "rerank"})
    assert bad.status_code == 400 and "not available" in bad.json()["error"]
    bad = client.post("/ui/api/search", json={"collection": "../etc", "query": "x"})
    assert bad.status_code == 400 and "no collection" in bad.json()["error"]


@pytest.mark.torch
def test_serve_offers_the_page(ui_root: Path) -> None:
    from embedstack.encoders.hashing import HashEncoder
    from embedstack.server.app import create_app
    from embedstack.server.settings import ServerSettings

    settings = ServerSettings(models=["hash:32"], collections_dir=ui_root)
    client = TestClient(create_app(settings, encoder_factory=lambda spec: HashEncoder(32)))
    assert client.get("/ui/").status_code == 200
    names = [c["name"] for c in client.get("/ui/api/collections").json()]
    assert names == ["photos.es", "text.es"]


@pytest.mark.browser
@pytest.mark.torch
def test_page_in_a_real_browser(ui_root: Path, sample_images: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with Collection.open(ui_root / "text.es") as collection:
        bm25 = [h.id for h in collection.search("rotate keys", k=12, retriever="bm25")]
        dense = [h.id for h in collection.search("rotate keys", k=12)]
    with Collection.open(ui_root / "photos.es") as collection:
        cats = [h.id for h in collection.search("a cat", k=12)]
    with running(create_ui_app(ui_root)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{url}/ui/")
            page.wait_for_selector("body[data-ready=true]")
            page.select_option("#collection", "text.es")
            page.select_option("#retriever", "bm25")
            page.fill("#query", "rotate keys")
            page.press("#query", "Enter")
            page.wait_for_selector("#results li.hit")
            assert page.locator("#results .hit-id").all_text_contents() == bm25
            assert "bm25" in page.locator("#results .stages").first.text_content()
            assert "Rotate the API keys" in page.locator("#results .text").first.text_content()

            page.select_option("#retriever", "dense")
            page.click("#go")
            page.wait_for_function(
                "ids => [...document.querySelectorAll('#results .hit-id')]"
                ".map(e => e.textContent).join() === ids.join()",
                arg=dense,
            )

            page.select_option("#collection", "photos.es")
            assert page.locator("#upload").is_visible()
            page.set_input_files("#upload", str(sample_images / "chelsea_cat.png"))
            page.wait_for_selector("#results.images li.hit img")
            assert page.locator("#results .hit-id").first.text_content() == "chelsea_cat.png"
            page.wait_for_function(
                "() => [...document.querySelectorAll('#results img')].every(i => i.naturalWidth > 0)"
            )
            page.fill("#query", "a cat")
            page.press("#query", "Enter")
            page.wait_for_function(
                "ids => [...document.querySelectorAll('#results .hit-id')]"
                ".map(e => e.textContent).join() === ids.join()",
                arg=cats,
            )
            assert page.locator("#results img").count() == 5
        finally:
            browser.close()
