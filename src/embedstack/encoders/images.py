"""Images in: safe loading, the model's own preprocessing, and the `ImageEncoder` kind.

Loading refuses what would hurt a batch run: unreadable, corrupt or truncated files and
decompression bombs (checked from the header before any pixel is decoded) raise
`ImageError` with the reason, so an indexer can skip the file and report it. EXIF
orientation is applied, GIF/WebP animations give their first frame. Preprocessing
follows `preprocessor_config.json` exactly as Hugging Face's image processors do
(resize with the stated filter, centre crop, rescale, normalise) with Pillow + numpy.
"""

from __future__ import annotations

import io
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedstack._optional import require
from embedstack.encoders.base import normalize_rows
from embedstack.errors import EmbedstackError, InputError
from embedstack.types import EmbeddingSpace

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_PIXELS = 64_000_000  # ~8000 x 8000; Pillow's own bomb guard is 89 M (warning) / 179 M
MAX_BYTES = 256 * 1024 * 1024


class ImageError(InputError):
    """One image cannot be used; the message says why (the indexer skips it and
    reports `reason`, the message without the file name)."""

    def __init__(self, where: Path, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


def _pil() -> Any:
    return require("PIL.Image", "images", "reading images")


def load_image(
    source: str | Path | bytes | Image, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> Image:
    """An RGB-convertible, fully decoded, upright image, or `ImageError` saying why not."""
    pil = _pil()
    from PIL import ImageOps

    if isinstance(source, pil.Image):
        return source
    handle: Any
    if isinstance(source, (bytes, bytearray)):
        path, size, handle = Path("<uploaded image>"), len(source), io.BytesIO(source)
    else:
        path = Path(str(source))
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageError(path, f"cannot read: {exc.strerror or exc}") from None
        handle = path
    if size > max_bytes:
        raise ImageError(path, f"{size / 2**20:.0f} MiB, over the {max_bytes // 2**20} MiB limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            image = pil.open(handle)
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise ImageError(
                    path,
                    f"{width}x{height} = {width * height:,} pixels, over the "
                    f"{max_pixels:,}-pixel limit (decompression-bomb guard); raise max_pixels "
                    "(--max-pixels) if the file is trusted",
                )
            image.seek(0)  # animations: the first frame
            image.load()  # decodes: truncated/corrupt data fails here
            return ImageOps.exif_transpose(image) or image
    except ImageError:
        raise
    except (pil.DecompressionBombError, pil.DecompressionBombWarning) as exc:
        raise ImageError(path, f"decompression-bomb guard: {exc}") from None
    except pil.UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(path, f"corrupt or truncated: {exc}") from None


def _size_dict(value: Any, square: bool) -> dict[str, int]:
    if isinstance(value, int):
        return {"height": value, "width": value} if square else {"shortest_edge": value}
    if isinstance(value, dict):
        return {k: int(v) for k, v in value.items() if v is not None}
    raise InputError(f"unsupported image size {value!r} in preprocessor_config.json")


@dataclass(frozen=True)
class Preprocessing:
    """What `preprocessor_config.json` asks for; `__call__` gives (3, H, W) float32."""

    size: tuple[tuple[str, int], ...]
    resample: int = 3  # PIL.Image.Resampling.BICUBIC, as in Hugging Face's enum
    crop: tuple[int, int] | None = None  # (height, width)
    rescale: float | None = 1 / 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    convert_rgb: bool = True

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Preprocessing:
        """Read Hugging Face preprocessor settings, refusing resizes we cannot reproduce."""
        crop = None
        if data.get("do_center_crop", False):
            c = _size_dict(data.get("crop_size", 224), square=True)
            crop = (c["height"], c["width"])
        size = (
            _size_dict(data.get("size", 224), square=crop is None)
            if data.get("do_resize", True)
            else {}
        )
        if size and not ({"shortest_edge"} <= set(size) or {"height", "width"} <= set(size)):
            raise InputError(f"unsupported resize {size} in preprocessor_config.json")
        normalise = data.get("do_normalize", True)
        return cls(
            size=tuple(sorted(size.items())),
            resample=int(data.get("resample", 3)),
            crop=crop,
            rescale=float(data.get("rescale_factor", 1 / 255))
            if data.get("do_rescale", True)
            else None,
            mean=tuple(map(float, data.get("image_mean", (0.5, 0.5, 0.5)))) if normalise else None,
            std=tuple(map(float, data.get("image_std", (0.5, 0.5, 0.5)))) if normalise else None,
            convert_rgb=bool(data.get("do_convert_rgb", True)),
        )

    @classmethod
    def from_dir(cls, path: Path) -> Preprocessing:
        """Load the model folder's preprocessor_config.json."""
        file = path / "preprocessor_config.json"
        if not file.is_file():
            raise EmbedstackError(
                f"{path} has no preprocessor_config.json: the image tower needs it"
            )
        return cls.from_config(json.loads(file.read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        """The preprocessing settings as a JSON-ready dict."""
        return {"size": dict(self.size), "resample": self.resample, "crop": self.crop,
                "rescale": self.rescale, "mean": self.mean, "std": self.std}  # fmt: skip

    def __call__(self, image: Image) -> np.ndarray:
        """Resize, crop and normalise one image into the tower's pixel array."""
        if self.convert_rgb and image.mode != "RGB":
            image = image.convert("RGB")
        size = dict(self.size)
        if "shortest_edge" in size:  # Hugging Face: short side = edge, long side floored
            width, height = image.size
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
            target = (new_short, new_long) if width <= height else (new_long, new_short)
            image = image.resize(target, resample=self.resample, reducing_gap=None)
        elif size:
            image = image.resize(
                (size["width"], size["height"]), resample=self.resample, reducing_gap=None
            )
        pixels = np.asarray(image)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None].repeat(3, axis=2)
        if self.crop is not None:
            pixels = _center_crop(pixels, *self.crop)
        out = pixels.astype(np.float64) * self.rescale if self.rescale is not None else pixels
        out = np.asarray(out, dtype=np.float32)
        if self.mean is not None and self.std is not None:
            out = (out - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


def _center_crop(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Hugging Face's centre crop: floor offsets, zero padding when the image is smaller."""
    h, w = pixels.shape[:2]
    if h < height or w < width:
        padded = np.zeros((max(h, height), max(w, width), pixels.shape[2]), dtype=pixels.dtype)
        top, left = (padded.shape[0] - h) // 2, (padded.shape[1] - w) // 2
        padded[top : top + h, left : left + w] = pixels
        pixels, h, w = padded, padded.shape[0], padded.shape[1]
    top, left = (h - height) // 2, (w - width) // 2
    return pixels[top : top + height, left : left + width]


ImageInput = str | Path | Any  # a path or a PIL image


class ImageEncoder(ABC):
    """Turns images into float32 vectors in one `EmbeddingSpace` (shared with a text
    tower for dual encoders). Subclasses set `space` and `preprocess`, and implement
    `encode_pixels`; loading, batching and normalisation live here once."""

    space: EmbeddingSpace
    preprocess: Preprocessing
    default_batch_size: int = 16
    max_pixels: int = MAX_PIXELS

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self.space.dim

    @abstractmethod
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Raw (n, dim) vectors for preprocessed (n, 3, H, W) pixels."""

    def encode_images(
        self, images: Sequence[ImageInput], batch_size: int | None = None
    ) -> np.ndarray:
        """(n, dim) vectors for paths or PIL images; unit length if the space says so.
        A bad file raises `ImageError` naming it (callers that must not stop, like the
        indexer, load with `load_image` first and skip)."""
        if isinstance(images, (str, Path)):
            raise TypeError("images must be a list: wrap a single path as [path]")
        size = batch_size or self.default_batch_size
        if size <= 0:
            raise InputError(f"batch_size must be positive, got {size}")
        items = list(images)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            pixels = np.stack(
                [self.preprocess(load_image(i, max_pixels=self.max_pixels)) for i in chunk]
            )
            vectors = np.asarray(self.encode_pixels(pixels), dtype=np.float32)
            if vectors.shape != (len(chunk), self.dim) or not np.isfinite(vectors).all():
                raise EmbedstackError(
                    f"{self.space.model} returned unusable image vectors {vectors.shape}"
                )
            out[start : start + len(chunk)] = vectors
        return normalize_rows(out) if self.space.normalize else out
