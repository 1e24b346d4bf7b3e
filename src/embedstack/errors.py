"""Errors that say what went wrong and how to fix it.

Every error raised on purpose by embedstack subclasses `EmbedstackError`, so the CLI and
server can show a one-line message instead of a traceback.
"""

from __future__ import annotations


class EmbedstackError(Exception):
    """Base class: the message names the problem and the fix."""


class ModelNotFoundError(EmbedstackError):
    """No weights could be found for a model spec."""


class SpaceMismatchError(EmbedstackError):
    """Vectors from two different embedding spaces would be mixed."""


class CollectionError(EmbedstackError):
    """A collection is missing, corrupt or used the wrong way."""


class InputError(EmbedstackError, ValueError):
    """User input (texts, files, options) cannot be used as given."""


class TruncationError(InputError):
    """A text is longer than the model accepts and truncation was refused."""


class MissingExtraError(EmbedstackError, ImportError):
    """An optional dependency is not installed."""


class ProviderError(EmbedstackError):
    """A hosted embedding API failed or answered something unusable."""


class StorageError(CollectionError):
    """A database or data file is missing, damaged, or written by a newer embedstack."""


class BusyError(CollectionError):
    """Another process is writing and did not finish within the wait allowed."""
