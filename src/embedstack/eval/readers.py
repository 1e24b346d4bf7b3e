"""Reading evaluation files: JSONL/CSV/TSV rows with the file and line in every error,
and the `ValidationReport` that counts problems a dataset can live with."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from embedstack.errors import InputError

_EXAMPLES = 5


@dataclass
class ValidationReport:
    """Counts of problems found while loading, with a few example ids for each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, problem: str, example: str) -> None:
        """Count one problem and keep a few examples of it."""
        self.counts[problem] = self.counts.get(problem, 0) + 1
        shown = self.examples.setdefault(problem, [])
        if len(shown) < _EXAMPLES:
            shown.append(example)

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.counts

    def lines(self) -> list[str]:
        """One human-readable line per problem, e.g. `3 duplicate doc ids (e.g. 7, 9)`."""
        return [
            f"{n} {problem.replace('_', ' ')} (e.g. {', '.join(self.examples[problem])})"
            for problem, n in sorted(self.counts.items())
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the `validation` key of results)."""
        return {"counts": dict(self.counts), "examples": dict(self.examples)}


def open_text(path: Path) -> IO[str]:
    """A UTF-8 text handle; `.gz` files are decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def find_file(directory: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    """The first of `stem + suffix` that exists in `directory`, or None."""
    return next(
        (directory / (stem + s) for s in suffixes if (directory / (stem + s)).exists()), None
    )


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object); a malformed line raises naming the file and line."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one "
                    "JSON object. Fix or remove that line."
                ) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{number}: expected a JSON object, got {obj!r:.60}")
            yield number, obj


def require_field(
    obj: dict[str, Any], key: str, path: Path, line: int, default: str | None = None
) -> str:
    """`obj[key]` as a string (or `default`); a missing field raises naming file and line."""
    value = obj.get(key, default)
    if value is None:
        raise InputError(f"{path}:{line}: missing field {key!r}")
    return str(value)


def read_table(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV/TSV (header required) or JSONL file as string dicts."""
    if path.suffix in (".jsonl", ".gz"):
        for number, obj in read_jsonl(path):
            yield number, {k: "" if v is None else str(v) for k, v in obj.items()}
        return
    tsv = path.suffix in (".tsv", ".txt")
    with open_text(path) as handle:
        # The STS data ships unquoted: quote characters are part of the sentences.
        reader = (
            csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tsv
            else csv.reader(handle)
        )
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path} is empty; it needs a header row and data rows")
        header = [h.strip().lower() for h in header]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}:{reader.line_num}: {len(row)} columns, header has {len(header)} "
                    f"({', '.join(header)})"
                )
            yield reader.line_num, dict(zip(header, row, strict=True))
