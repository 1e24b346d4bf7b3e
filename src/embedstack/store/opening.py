"""Opening and creating collection folders: which encoder, and whether a folder may be used.

Kept apart from `Collection` so that the rules about folders (never wipe data, never
mix embedding spaces) read in one place.
"""

from __future__ import annotations

from pathlib import Path

from embedstack.encoders.base import Encoder
from embedstack.errors import CollectionError, InputError, SpaceMismatchError, StorageError
from embedstack.store.flat import VECTORS_DIR
from embedstack.store.manifest import MANIFEST, Manifest
from embedstack.store.records import DATABASE, RecordStore
from embedstack.types import EmbeddingSpace

INDEXES_DIR = "indexes"
OWN_FILES = {MANIFEST, DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", VECTORS_DIR, INDEXES_DIR}


def resolve_encoder(encoder: Encoder | str | None) -> tuple[Encoder, str]:
    """(encoder, model spec) from an encoder, a spec string, or the default model."""
    from embedstack.config import default_model_spec
    from embedstack.registry import load_encoder

    if isinstance(encoder, Encoder):
        return encoder, getattr(encoder, "spec", "") or encoder.space.model
    spec = encoder or default_model_spec()
    return load_encoder(spec), spec


# Space fields that encoder options can set, and the option that sets each.
_OPTION_FIELDS = {
    "pooling": "pooling",
    "normalize": "normalize",
    "query_prefix": "query_prefix",
    "document_prefix": "document_prefix",
    "max_tokens": "max_length",
    "precision": "precision",
}


def rebuild_encoder(folder: Path, manifest: Manifest) -> Encoder:
    """The encoder from the manifest's model spec. A collection built with non-default
    options (pooling, prefixes, ...) differs from the spec's defaults only in those
    fields: rebuild once with them set, and refuse with the diff if that does not match."""
    from embedstack.registry import load_encoder

    encoder, _ = resolve_encoder(manifest.model_spec)
    wanted, got = manifest.space.to_dict(), encoder.space.to_dict()
    differing = {k for k in wanted if wanted[k] != got[k]}
    if differing and differing <= set(_OPTION_FIELDS):
        options = {_OPTION_FIELDS[k]: wanted[k] for k in differing}
        try:
            retry = load_encoder(manifest.model_spec, **options)
        except (InputError, TypeError):
            retry = None
        if retry is not None and retry.space == manifest.space:
            return retry
    require_space(folder, manifest.space, encoder)
    return encoder


def require_space(folder: Path, space: EmbeddingSpace, encoder: Encoder) -> None:
    """Raise SpaceMismatchError naming the folder unless the encoder embeds into `space`."""
    try:
        space.require_same(encoder.space)
    except SpaceMismatchError as exc:
        raise SpaceMismatchError(f"{folder}: {exc}") from None


def check_leftovers(folder: Path) -> None:
    """A folder without a manifest may only be reused when it is empty or holds what a
    crashed `create` leaves (an empty database); a collection whose manifest went
    missing is damaged, and its data is never wiped silently."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise CollectionError(f"{folder} is a file: give a folder for the collection")
    if any(p.name not in OWN_FILES for p in folder.iterdir()):
        raise CollectionError(f"{folder} exists and is not empty: choose a new folder")
    rows = 0
    database = folder / DATABASE
    if database.exists() and database.stat().st_size > 0:  # 0 bytes: a create that crashed
        try:
            store = RecordStore(database)
        except StorageError as exc:
            raise CollectionError(
                f"{folder} holds a database but no {MANIFEST}, and the database is unreadable "
                f"({exc}); move the folder away and re-index into a new one"
            ) from None
        try:
            rows = store.count() + len(store.segments())
        finally:
            store.close()
    if rows or any((folder / VECTORS_DIR).glob("*")) or any((folder / INDEXES_DIR).glob("*")):
        raise CollectionError(
            f"{folder} holds collection data but {MANIFEST} is missing, so it is damaged: "
            "move the folder away and re-index into a new one"
        )
