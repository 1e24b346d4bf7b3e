"""Read files into documents for indexing: .txt/.md, .jsonl, .csv; folders recursively.

A file that cannot be read (not UTF-8, bad JSON line, missing column) is skipped with a
reason naming the file (and byte offset or line), and the run goes on: the caller gets
the skipped list to report at the end. Nothing is truncated here; chunking is separate.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack.errors import InputError

log = logging.getLogger(__name__)
PLAIN = (".txt", ".md", ".markdown", ".rst", ".text")
SUFFIXES = (*PLAIN, ".jsonl", ".csv")


@dataclass
class Document:
    """One text to index, with its id and metadata."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    """An input that was not loaded, and why."""

    where: str  # a path, or path:line
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class LoadResult:
    """Documents loaded, inputs skipped, and how many files were read or ignored."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0  # files read (fully or partly)
    ignored: int = 0  # files in folders with other extensions


@dataclass(frozen=True)
class Fields:
    """Which JSONL fields / CSV columns hold the id and the text."""

    text: str = "text"
    id: str = "id"
    csv_column: str | None = None  # defaults to `text`


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """(file, given explicitly) for each path; folders are walked in sorted order,
    skipping hidden files and folders; a file reached twice is read once."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found = [(path, True)]
        elif path.is_dir():
            found = [
                (child, False)
                for child in sorted(path.rglob("*"))
                if child.is_file()
                and not any(p.startswith(".") for p in child.relative_to(path).parts)
            ]
        else:
            raise InputError(f"no such file or folder: {path} does not exist")
        for file, explicit in found:
            if (key := file.resolve()) not in seen:
                seen.add(key)
                yield file, explicit


class _SkipError(Exception):
    """This file (or line) cannot be used; the message says why."""


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _SkipError(
            f"not UTF-8: invalid byte 0x{data[exc.start]:02x} at byte offset {exc.start}; "
            "convert it with e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def _jsonl(
    path: Path, text: str, fields: Fields, result: LoadResult, first_line: int = 1
) -> list[Document]:
    """Documents of JSONL `text`; `first_line` numbers a slice of a file (shard units)."""
    docs = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        if not line.strip():
            continue
        where = f"{path.as_posix()}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            result.skipped.append(Skipped(where, f"invalid JSON ({exc})"))
            continue
        if not isinstance(item, dict) or not isinstance(item.get(fields.text), str):
            result.skipped.append(
                Skipped(where, f"no string field {fields.text!r} (choose one with --text-field)")
            )
            continue
        id_ = str(item[fields.id]) if item.get(fields.id) is not None else where
        meta = {k: v for k, v in item.items() if k not in (fields.text, fields.id)}
        docs.append(Document(id_, item[fields.text], {**meta, "path": path.as_posix()}))
    return docs


def _csv(path: Path, text: str, fields: Fields) -> list[Document]:
    column = fields.csv_column or fields.text
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if column not in header:
        raise _SkipError(
            f"no column {column!r} (columns: {', '.join(header) or 'none'}); "
            "choose one with --csv-column"
        )
    docs = []
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        id_ = row.get(fields.id) or f"{path.as_posix()}:{number}"
        meta = {k: v for k, v in row.items() if k not in (column, fields.id) and k is not None}
        docs.append(Document(id_, row[column] or "", {**meta, "path": path.as_posix()}))
    return docs


def _read(path: Path, fields: Fields, result: LoadResult) -> list[Document]:
    text = _decode(path, path.read_bytes())
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl(path, text, fields, result)
    if suffix == ".csv":
        return _csv(path, text, fields)
    if not text.strip():
        raise _SkipError("empty file")
    return [Document(path.as_posix(), text, {"path": path.as_posix()})]


def _too_large(size: int, limit: int | None) -> str | None:
    if limit is None or size <= limit:
        return None
    return (
        f"{size / 1e6:.1f} MB is over the limit of {limit / 1e6:g} MB per document; "
        "raise it with `embedstack index --max-file-mb N` (or split the text into files)"
    )


def load_documents(
    paths: Iterable[str | Path], fields: Fields | None = None, max_bytes: int | None = None
) -> LoadResult:
    """Read every supported file under `paths`. Ids: the file path for .txt/.md; the id
    field/column for .jsonl/.csv (else `path:line`). A repeated id is skipped, and so is
    a .txt/.md file or a record text over `max_bytes` (bounded memory and time)."""
    fields = fields or Fields()
    result = LoadResult()
    seen: dict[str, str] = {}
    for path, explicit in iter_files(paths):
        if path.suffix.lower() not in SUFFIXES:
            if explicit:
                result.skipped.append(
                    Skipped(path.as_posix(), f"unsupported type (use {', '.join(SUFFIXES)})")
                )
            else:
                result.ignored += 1
            continue
        try:
            if path.suffix.lower() in PLAIN and (
                reason := _too_large(path.stat().st_size, max_bytes)
            ):
                raise _SkipError(reason)
            docs = _read(path, fields, result)
        except (_SkipError, OSError) as exc:
            log.info("skipped %s: %s", path, exc)
            result.skipped.append(Skipped(path.as_posix(), str(exc)))
            continue
        result.files += 1
        for doc in docs:
            if reason := _too_large(len(doc.text), max_bytes):
                result.skipped.append(Skipped(doc.metadata["path"], f"id {doc.id!r}: {reason}"))
                continue
            if doc.id in seen:
                result.skipped.append(
                    Skipped(
                        doc.metadata["path"], f"duplicate id {doc.id!r} (first in {seen[doc.id]})"
                    )
                )
                continue
            seen[doc.id] = doc.metadata["path"]
            result.documents.append(doc)
    return result
