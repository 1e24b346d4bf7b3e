"""Image collections end to end: index a folder with bad files in it, search by text and
by image, re-index incrementally, zero-shot labels; the CLI commands on top."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedstack.apps.images import index_images, label_images, search_by_image
from embedstack.cli.main import app
from embedstack.encoders.clip import load_dual_encoder
from embedstack.encoders.images import ImageError, load_image
from embedstack.errors import CollectionError
from embedstack.store.collection import Collection

pytestmark = pytest.mark.torch
runner = CliRunner()


@pytest.fixture
def photos(sample_images: Path, tmp_path: Path) -> Path:
    """The sample photos plus a corrupt file, a truncated JPEG and a non-image."""
    root = tmp_path / "photos"
    shutil.copytree(sample_images, root)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    data = (root / "more" / "coffee.jpg").read_bytes()
    (root / "half.jpg").write_bytes(data[: len(data) // 3])
    (root / "notes.md").write_text("not an image")
    return root


def test_load_image_refuses_bad_files_with_a_reason(photos: Path) -> None:
    with pytest.raises(ImageError, match="not an image Pillow can read"):
        load_image(photos / "broken.png")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(photos / "half.jpg")
    with pytest.raises(ImageError, match=r"over the 1,000-pixel limit \(decompression-bomb"):
        load_image(photos / "astronaut.png", max_pixels=1000)
    with pytest.raises(ImageError, match="cannot read"):
        load_image(photos / "missing.png")
    with pytest.raises(ImageError, match="MiB limit"):
        load_image(photos / "astronaut.png", max_bytes=1000)


def test_exif_orientation_and_gif_first_frame(tmp_path: Path) -> None:
    from PIL import Image

    image = Image.new("RGB", (40, 20), "red")
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: stored landscape, shown portrait
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").size == (20, 40)
    frames = [Image.new("RGB", (8, 8), c) for c in ("blue", "green")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    first = load_image(tmp_path / "anim.gif").convert("RGB")
    assert first.getpixel((0, 0))[2] > 200  # blue, the first frame


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_index_search_reindex_label(family, dual_models, photos, tmp_path) -> None:
    folder, _ = dual_models[family]
    into = tmp_path / "photos.es"
    calls = []
    report = index_images(photos, into, folder, progress=lambda s, d, t: calls.append((d, t)))
    assert sorted(report.added) == [
        "astronaut.png", "cameraman.bmp", "chelsea_cat.png", "more/coffee.jpg", "more/rocket.webp",
    ]  # fmt: skip
    reasons = dict(report.skipped)
    assert set(reasons) == {"broken.png", "half.jpg"}
    assert "not an image" in reasons["broken.png"] and "truncated" in reasons["half.jpg"]
    assert calls[-1] == (7, 7) and report.total == 5

    # Text queries go through the ordinary collection, rebuilt from the manifest.
    dual = load_dual_encoder(folder)
    with Collection.open(into) as collection:
        hits = collection.search("a cat on a sofa", k=5)
        record = collection.get(["chelsea_cat.png"])[0]
        bm25 = collection.search("tabby sofa", k=2, retriever="bm25")
    query = dual.text.encode(["a cat on a sofa"])[0]
    vectors = dual.image.encode_images([photos / h.id for h in hits])
    assert [round(float(s), 4) for s in vectors @ query] == [round(h.score, 4) for h in hits]
    assert record.metadata["caption"] == "a tabby cat sitting on a sofa"
    assert (into / record.metadata["thumbnail"]).is_file()
    assert bm25[0].id == "chelsea_cat.png"  # from the caption sidecar

    # Query by image: the image itself comes first, with cosine 1.
    top = search_by_image(into, photos / "more" / "coffee.jpg", k=2)
    assert top[0].id == "more/coffee.jpg" and top[0].score == pytest.approx(1.0, abs=1e-5)

    # Re-index: nothing is embedded again; a changed file and a deleted caption are.
    again = index_images(photos, into)
    assert len(again.unchanged) == 5 and not again.added and not again.updated
    from PIL import Image

    Image.open(photos / "astronaut.png").save(photos / "more" / "rocket.webp")
    (photos / "chelsea_cat.txt").unlink()
    third = index_images(photos, into)
    assert sorted(third.updated) == ["chelsea_cat.png", "more/rocket.webp"]

    labels = label_images(into, ["cat", "rocket", "coffee"])
    assert len(labels) == 5
    image_vectors = dual.image.encode_images([photos / r.id for r in labels])
    text_vectors = dual.text.encode([f"a photo of a {x}." for x in ("cat", "rocket", "coffee")])
    expected = dual.probabilities(image_vectors, text_vectors)
    for result, row in zip(labels, expected, strict=True):
        got = dict(result.labels)
        assert [got[x] for x in ("cat", "rocket", "coffee")] == pytest.approx(row, abs=1e-5)
        if family == "clip":
            assert sum(got.values()) == pytest.approx(1.0)


def test_text_collection_is_refused_for_image_queries(tmp_path, sample_images) -> None:
    Collection.create(tmp_path / "text.es", "hash:16").close()
    with pytest.raises(CollectionError, match="text collection"):
        search_by_image(tmp_path / "text.es", sample_images / "astronaut.png")


def test_cli_index_images_search_label(dual_models, photos, tmp_path) -> None:
    folder, _ = dual_models["clip"]
    into = tmp_path / "cli.es"
    args = ["index-images", str(photos), "--into", str(into), "--model", str(folder), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["added"] == 5 and {s["file"] for s in summary["skipped"]} == {
        "broken.png", "half.jpg",
    }  # fmt: skip
    result = runner.invoke(app, ["search", "a cat", "--in", str(into), "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
    image = str(photos / "astronaut.png")
    result = runner.invoke(app, ["search", "--image", image, "--in", str(into), "--json"])
    assert json.loads(result.stdout)[0]["id"] == "astronaut.png"
    result = runner.invoke(app, ["search", "--in", str(into), "--retriever", "hybrid", "x"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["label", str(into), "--labels", "cat,dog", "--json"])
    rows = json.loads(result.stdout)
    assert len(rows) == 5 and all(len(r["labels"]) == 2 for r in rows)
    result = runner.invoke(app, ["label", str(into), "--labels", " , "])
    assert result.exit_code == 1 and "at least one label" in result.output
    result = runner.invoke(app, ["index-images", str(photos), "--into", str(tmp_path / "n.es")])
    assert result.exit_code == 1 and "--model" in result.output
    assert np.isfinite(len(rows))
