"""Secondary indexes record the embedding space they were built in and refuse any other.

A SPLADE or ColBERT index stores vectors of one model; the model is named by a folder,
and new weights can land in the same folder. So every index saves its encoder's
`EmbeddingSpace` next to its vectors and, on load, compares it field by field with the
space of the encoder it is opened with, as a dense collection compares its manifest.
"""

from __future__ import annotations

from typing import Any

from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.types import EmbeddingSpace


def read_space(recorded: Any, where: str, rebuild: str) -> EmbeddingSpace | None:
    """The space recorded in an index's metadata (None if the index predates spaces)."""
    if recorded is None:
        return None
    try:
        return EmbeddingSpace.from_dict(dict(recorded))
    except (InputError, TypeError, ValueError) as exc:
        raise CollectionError(
            f"{where} records an unreadable embedding space ({exc}). Rebuild it: {rebuild}"
        ) from None


def require_space(
    recorded: EmbeddingSpace | None, current: EmbeddingSpace, what: str, rebuild: str
) -> None:
    """Refuse to open an index with an encoder of another space, naming every field that
    differs (`fingerprint: '1f..' != '9c..'` when the weights changed)."""
    if recorded is None:
        raise CollectionError(
            f"the {what} was built by an older embedstack that did not record its embedding "
            f"space, so nothing shows that its vectors match the model now at "
            f"{current.model}. Rebuild it from the stored texts: {rebuild}"
        )
    differences = recorded.diff(current)
    if differences:
        raise SpaceMismatchError(
            f"the {what} was built in a different embedding space than its model now "
            f"gives ({'; '.join(differences)}): the model at {current.model} or its "
            f"settings changed, and its vectors cannot be mixed with the old ones. "
            f"Rebuild it: {rebuild}"
        )
