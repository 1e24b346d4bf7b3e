"""Image tests: tiny CLIP/SigLIP folders and sample images, built once per session in
tmp (never downloaded); converted graphs go to a temp EMBEDSTACK_HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PIL")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

SAMPLES = {  # scikit-image's data module (see README for licences)
    "astronaut": ("astronaut", "png"),
    "coffee": ("coffee", "jpg"),
    "chelsea_cat": ("chelsea", "png"),
    "rocket": ("rocket", "webp"),
    "cameraman": ("camera", "bmp"),  # greyscale
}


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path_factory.getbasetemp() / "embedstack-home"))


@pytest.fixture(scope="session")
def dual_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    from tiny_dual import make_tiny_dual

    root = tmp_path_factory.mktemp("dual")
    return {
        f: (root / f, make_tiny_dual(root / f, f, seed=i)) for i, f in enumerate(("clip", "siglip"))
    }


@pytest.fixture(scope="session")
def sample_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five real photos from scikit-image, in five formats, under a nested folder."""
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    (root / "more").mkdir()
    for i, (name, (loader, fmt)) in enumerate(SAMPLES.items()):
        folder = root / "more" if i % 2 else root
        Image.fromarray(getattr(data, loader)()).save(folder / f"{name}.{fmt}")
    (root / "chelsea_cat.txt").write_text("a tabby cat sitting on a sofa")  # caption sidecar
    return root
