"""Image collections: index a folder of images, search it by text or by image, label it.

An image collection is an ordinary `Collection` whose encoder is a dual encoder's text
tower (so text queries, BM25 and hybrid search work unchanged) and whose rows are image
vectors from the image tower, added with `upsert_vectors`. Each row's text is the file
name, caption (a sidecar `.txt`, PNG description) and EXIF text, for keyword search.
Re-indexing skips files whose bytes (and caption) hash is unchanged; bad files are
skipped with a reason, never stopping the run.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from embedstack.encoders.clip import DualEncoder, load_dual_encoder
from embedstack.encoders.images import IMAGE_SUFFIXES, MAX_PIXELS, ImageError, load_image
from embedstack.errors import CollectionError, InputError
from embedstack.progress import Progress
from embedstack.progress import report as report_progress
from embedstack.store.collection import Collection
from embedstack.store.manifest import MANIFEST
from embedstack.types import Hit

THUMBNAILS = "thumbnails"
THUMB_SIZE = 256
CHUNK = 64  # images per atomic write: a crash loses at most this much work
_EXIF_TEXT = {270: "description", 271: "make", 272: "model", 306: "datetime", 315: "artist"}


@dataclass
class ImageIndexReport:
    """What indexing a folder of images did: files added, updated, unchanged and skipped."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    total: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Counts per outcome plus each skipped file with its reason, for JSON output."""
        return {"added": len(self.added), "updated": len(self.updated),
                "unchanged": len(self.unchanged), "total": self.total,
                "skipped": [{"file": f, "reason": r} for f, r in self.skipped]}  # fmt: skip


@lru_cache(maxsize=4)
def dual_encoder(model_dir: str) -> DualEncoder:
    """One loaded dual encoder per folder per process (both towers' sessions)."""
    return load_dual_encoder(model_dir)


def is_image_collection(collection: Collection) -> bool:
    """True when the collection was built with a text+image model, so it holds images."""
    return dict(collection.space.extra).get("towers") == "text+image"


def open_image_collection(path: str | Path) -> tuple[Collection, DualEncoder]:
    """Open an image collection with its dual encoder (the text tower as its encoder)."""
    from embedstack.store.manifest import Manifest

    manifest = Manifest.read(Path(path))
    if dict(manifest.space.extra).get("towers") != "text+image":
        raise CollectionError(
            f"{path} is a text collection (model {manifest.space.model}); image queries and "
            "labels need a collection made by `embedstack index-images`"
        )
    dual = dual_encoder(manifest.model_spec)
    return Collection.open(path, encoder=dual.text), dual


def find_images(root: Path) -> list[Path]:
    """The image files under root (or root itself if a file), sorted by path."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root} does not exist: give a folder of images")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _caption(path: Path, image: Any) -> str:
    """Caption text from a sidecar `<name>.txt` and PNG/WebP text chunks, if any."""
    parts = []
    sidecar = path.with_suffix(".txt")
    if sidecar.is_file():
        parts.append(sidecar.read_text(encoding="utf-8", errors="replace").strip())
    info = getattr(image, "info", {}) or {}
    parts += [str(info[k]) for k in ("Description", "Title", "Comment", "comment") if k in info]
    return " ".join(p if isinstance(p, str) else "" for p in parts).strip()


def _exif(image: Any) -> dict[str, str]:
    try:
        exif = image.getexif()
    except (AttributeError, OSError, ValueError):
        return {}
    out = {}
    for tag, name in _EXIF_TEXT.items():
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str) and value.strip("\x00 "):
            out[name] = value.strip("\x00 ")
    return out


def _words(name: str) -> str:
    return " ".join(w for w in re.split(r"[\W_]+", name) if w)


def _thumbnail(image: Any, into: Path, digest: str) -> str:
    from embedstack.atomic import write_bytes

    relative = f"{THUMBNAILS}/{digest[:2]}/{digest}.jpg"
    target = into / relative
    if not target.is_file():
        thumb = image.convert("RGB")
        thumb.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=85)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, buffer.getvalue())
    return relative


def index_images(
    folder: str | Path,
    into: str | Path,
    model: str | Path | None = None,
    *,
    bm25: bool = True,
    max_pixels: int = MAX_PIXELS,
    progress: Progress | None = None,
) -> ImageIndexReport:
    """Index every image under `folder` (recursive) into the collection `into`.
    `model` (a CLIP/SigLIP folder) is needed only for a new collection."""
    root, target = Path(folder).expanduser(), Path(into)
    if (target / MANIFEST).exists():
        collection, dual = open_image_collection(target)
    else:
        if model is None:
            raise InputError(
                f"{target} is a new collection: give --model PATH (a CLIP/SigLIP folder)"
            )
        dual = dual_encoder(str(Path(model).expanduser().resolve()))
        collection = Collection.create(target, dual.text, indexes=None if bm25 else ())
    files = find_images(root)
    base = root if root.is_dir() else root.parent
    ids = [p.relative_to(base).as_posix() for p in files]
    report = ImageIndexReport()
    with collection:
        stored = collection.content_hashes(ids)
        pending: list[tuple[str, Path, str]] = []
        for id_, path in zip(ids, files, strict=True):
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                report.skipped.append((id_, f"cannot read: {exc.strerror or exc}"))
                continue
            sidecar = path.with_suffix(".txt")
            if sidecar.is_file():
                digest = hashlib.sha256(
                    (digest + sidecar.read_text(errors="replace")).encode()
                ).hexdigest()
            if stored.get(id_) == digest:
                report.unchanged.append(id_)
            else:
                pending.append((id_, path, digest))
        done = 0
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            _index_chunk(collection, dual, chunk, into=target, max_pixels=max_pixels, report=report)
            done += len(chunk)
            report_progress(progress, "embedding images", done, len(pending))
        report.total = len(collection)
    return report


def _index_chunk(
    collection: Collection, dual: DualEncoder, items: Sequence[tuple[str, Path, str]], *,
    into: Path, max_pixels: int, report: ImageIndexReport,
) -> None:  # fmt: skip
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    pixels = []
    for id_, path, digest in items:
        try:
            image = load_image(path, max_pixels=max_pixels)
            pixels.append(dual.image.preprocess(image))
        except ImageError as exc:
            report.skipped.append((id_, exc.reason))
            continue
        caption, exif = _caption(path, image), _exif(image)
        meta: dict[str, Any] = {
            "path": str(path.resolve()),
            "file": id_,
            "width": image.width,
            "height": image.height,
            "format": image.format or path.suffix[1:].upper(),
            "thumbnail": _thumbnail(image, into, digest),
        }
        if caption:
            meta["caption"] = caption
        if exif:
            meta["exif"] = exif
        text = " ".join(x for x in (_words(path.stem), caption, " ".join(exif.values())) if x)
        rows.append((id_, digest, text, meta))
    if not rows:
        return
    vectors = np.concatenate([dual.image.encode_pixels(np.stack(pixels[i : i + 16]))
                              for i in range(0, len(pixels), 16)])  # fmt: skip
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    result = collection.upsert_vectors(
        vectors,
        [r[0] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[1] for r in rows],
    )
    report.added += result.added
    report.updated += result.updated + result.metadata_only
    report.unchanged += result.unchanged


def search_by_image(
    path: str | Path, image: str | Path | Any, k: int = 10, where: dict[str, Any] | None = None
) -> list[Hit]:
    """Images most similar to `image` (a path, PIL image or bytes)."""
    collection, dual = open_image_collection(path)
    with collection:
        vector = dual.image.encode_images([load_image(image)])[0]
        return collection.search_vector(vector, k=k, where=where)


@dataclass
class Labelled:
    """One image with its zero-shot labels, most likely first."""

    id: str
    path: str
    labels: list[tuple[str, float]]  # (label, probability), most likely first

    def to_dict(self) -> dict[str, Any]:
        """The image and its labels with probabilities, for JSON output."""
        return {"id": self.id, "path": self.path,
                "labels": [{"label": lab, "probability": p} for lab, p in self.labels]}  # fmt: skip


def label_images(
    path: str | Path, labels: Sequence[str], template: str = "a photo of a {}."
) -> list[Labelled]:
    """Zero-shot labels for every image with calibrated probabilities: CLIP's softmax
    over the labels (they sum to 1), SigLIP's independent sigmoid per label."""
    names = [lab.strip() for lab in labels if lab.strip()]
    if not names:
        raise InputError('give at least one label, e.g. --labels "cat,dog,car"')
    if "{}" not in template:
        raise InputError(f"the template must contain {{}} for the label, got {template!r}")
    collection, dual = open_image_collection(path)
    with collection:
        records = collection.get(collection.ids())
        text = dual.text.encode([template.format(n) for n in names])
    if not records:
        return []
    probabilities = dual.probabilities(np.stack([r.vector for r in records]), text)
    out = []
    for record, row in zip(records, probabilities, strict=True):
        order = np.argsort(-row, kind="stable")
        ranked = [(names[j], float(row[j])) for j in order]
        out.append(Labelled(record.id, str(record.metadata.get("path", "")), ranked))
    return out
