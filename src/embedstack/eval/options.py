"""How an evaluation loads its encoder and where it caches: one options object shared by
`eval`, `compare`, `tune` and the chunk-size sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack.config import cache_dir as default_cache_dir
from embedstack.encoders.base import Encoder
from embedstack.encoders.cache import CachedEncoder, EmbeddingCache
from embedstack.progress import Progress
from embedstack.registry import load_encoder

VECTORS_FILE = "vectors.sqlite"  # query (and STS, chunk) vectors under --cache-dir
COLLECTIONS_DIR = "collections"  # indexed corpora under the eval cache folder


@dataclass
class EvalOptions:
    """Model settings, caching, progress and preset parameters of one evaluation.

    Args:
        model: encoder spec (`--model`); for `splade`/`colbert` presets the model folder.
        encoder_options: pooling, max_length, ... passed to `load_encoder`.
        batch_size: texts per encoder call.
        cache: keep the indexed corpus (a collection) and query vectors, so a re-run
            embeds nothing; False builds the corpus in a temporary folder.
        cache_dir: where; None means the `eval` folder of `EMBEDSTACK_HOME` for corpora
            and the shared encoder cache (`embedstack cache`) for vectors.
        progress: `(stage, done, total)` callback (the CLI draws a bar).
        params: preset settings from `--param KEY=VALUE`.
        loaded: an encoder to use instead of loading `model`; after a run, the encoder the
            run used (None if it used none, e.g. BM25).
    """

    model: str | None = None
    encoder_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    cache: bool = True
    cache_dir: Path | None = None
    progress: Progress | None = None
    params: dict[str, Any] = field(default_factory=dict)
    loaded: Encoder | None = field(default=None, repr=False)

    def vector_cache(self) -> bool | Path | None:
        """The `cache=` argument of `load_encoder`: None (the encoder's own default)
        when caching is off, a file under `cache_dir`, or True for the shared cache."""
        if not self.cache:
            return None
        return Path(self.cache_dir) / VECTORS_FILE if self.cache_dir is not None else True

    def collections_dir(self) -> Path | None:
        """Where indexed corpora are kept between runs (None when caching is off)."""
        if not self.cache:
            return None
        root = Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir("eval")
        return root / COLLECTIONS_DIR

    def encoder(self) -> Encoder:
        """The encoder, loaded once; with caching on it keeps every vector it makes."""
        if self.loaded is None:
            self.loaded = load_encoder(
                self.model, cache=self.vector_cache(), **self.encoder_options
            )
        elif self.cache and not isinstance(self.loaded, CachedEncoder):
            path = self.vector_cache()
            store = EmbeddingCache(None if path is True else path)  # type: ignore[arg-type]
            self.loaded = CachedEncoder(self.loaded, store)
        return self.loaded


def uncached(encoder: Encoder) -> Encoder:
    """The encoder under a cache wrapper: corpus vectors live in the collection, so they
    are embedded with it and never stored twice."""
    return encoder.encoder if isinstance(encoder, CachedEncoder) else encoder


def cache_counts(encoder: Encoder | None) -> tuple[int, int]:
    """(texts found in the vector cache, texts embedded) since it was opened."""
    if not isinstance(encoder, CachedEncoder):
        return 0, 0
    stats = encoder.cache.stats()
    return int(stats.hits), int(stats.misses)
