"""Split JSONL / Parquet shards into deterministic row ranges ("units") and read one.

A corpus too big for one machine is embedded unit by unit (see `embedstack.distributed`):
a unit is one input file and a range of its rows, so the same input always gives the
same units and any worker can read exactly its own rows. JSONL units carry their byte
range, so a worker seeks instead of reading the whole file; Parquet units read only the
row groups they overlap. Rows are parsed by the same code as `embedstack index`
(`text/loaders.py`), so ids and metadata match what `index` would store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embedstack._optional import require
from embedstack.errors import InputError
from embedstack.text.loaders import (
    Document,
    Fields,
    LoadResult,
    Skipped,
    _decode,
    _jsonl,
    _SkipError,
    iter_files,
)

SHARD_SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class Unit:
    """Rows [start, stop) of one file (rows: non-blank JSONL lines, or Parquet rows).

    `source` is the path as given (it appears in ids and metadata, as in `index`);
    `location` is the absolute path a worker reads.
    """

    index: int
    source: str
    location: str
    start: int
    stop: int
    offset: int = 0  # JSONL: first byte of the range
    end: int = 0  # JSONL: one past the last byte
    first_line: int = 1  # JSONL: line number at `offset`

    @property
    def key(self) -> str:
        """Unique name of the unit: source and row range."""
        return f"{self.source}:{self.start}-{self.stop}"

    @property
    def rows(self) -> int:
        """Number of rows in the unit."""
        return self.stop - self.start

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form, so the unit can be shipped to workers as JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unit:
        """Rebuild a unit from its `to_dict` form."""
        return cls(**data)


@dataclass
class Plan:
    """Every unit of a corpus, in file then row order, and the size of each file."""

    units: list[Unit] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)
    ignored: int = 0

    @property
    def rows(self) -> int:
        """Total rows across all units."""
        return sum(u.rows for u in self.units)


def _jsonl_units(path: Path, source: str, unit_rows: int, first: int) -> list[Unit]:
    """Scan once for line offsets: a unit starts after every `unit_rows` non-blank lines."""
    units: list[Unit] = []
    where = str(path.resolve())
    rows = offset = start_offset = 0
    line_no, start_line, start_row = 0, 1, 0
    with open(path, "rb") as fh:
        for line in fh:
            line_no += 1
            offset += len(line)
            if line.strip():
                rows += 1
                if rows - start_row == unit_rows:
                    span = (start_row, rows, start_offset, offset, start_line)
                    units.append(Unit(first + len(units), source, where, *span))
                    start_row, start_offset, start_line = rows, offset, line_no + 1
    if rows > start_row:
        span = (start_row, rows, start_offset, offset, start_line)
        units.append(Unit(first + len(units), source, where, *span))
    return units


def _parquet_rows(path: Path) -> int:
    pq = require("pyarrow.parquet", "distributed", "reading Parquet shards")
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from None


def plan_units(paths: Iterable[str | Path], unit_rows: int = 1000) -> Plan:
    """Units of at most `unit_rows` rows for every .jsonl / .parquet file under `paths`
    (folders walked in sorted order; other files in folders are ignored, a named file of
    another type is refused)."""
    if unit_rows < 1:
        raise InputError(f"unit_rows must be at least 1, got {unit_rows}")
    plan = Plan()
    for path, explicit in iter_files(paths):
        suffix = path.suffix.lower()
        if suffix not in SHARD_SUFFIXES:
            if explicit:
                raise InputError(
                    f"{path}: unsupported shard type (use {', '.join(SHARD_SUFFIXES)} files "
                    "or a folder of them; `embedstack index` reads .txt/.md/.csv)"
                )
            plan.ignored += 1
            continue
        source = path.as_posix()
        plan.files[source] = path.stat().st_size
        if suffix == ".jsonl":
            plan.units += _jsonl_units(path, source, unit_rows, len(plan.units))
            continue
        total, where = _parquet_rows(path), str(path.resolve())
        for start in range(0, total, unit_rows):
            stop = min(total, start + unit_rows)
            plan.units.append(Unit(len(plan.units), source, where, start, stop))
    if not plan.files:
        raise InputError(
            f"no .jsonl or .parquet files under {', '.join(map(str, paths))}: "
            "give shard files or a folder of them"
        )
    return plan


def _read_jsonl(unit: Unit, fields: Fields, result: LoadResult) -> list[Document]:
    with open(unit.location, "rb") as fh:
        fh.seek(unit.offset)
        data = fh.read(unit.end - unit.offset)
    try:
        text = _decode(Path(unit.source), data)
    except _SkipError as exc:
        raise InputError(f"{unit.key}: {exc}") from None
    return _jsonl(Path(unit.source), text, fields, result, first_line=unit.first_line)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _read_parquet(unit: Unit, fields: Fields, result: LoadResult) -> list[Document]:
    pq = require("pyarrow.parquet", "distributed", "reading Parquet shards")
    shard = pq.ParquetFile(unit.location)
    groups, first, seen = [], None, 0
    for i in range(shard.metadata.num_row_groups):
        size = shard.metadata.row_group(i).num_rows
        if seen < unit.stop and seen + size > unit.start:
            groups.append(i)
            first = seen if first is None else first
        seen += size
    table = shard.read_row_groups(groups).slice(unit.start - (first or 0), unit.rows)
    docs = []
    for row, item in enumerate(table.to_pylist(), start=unit.start):
        where = f"{unit.source}:{row + 1}"
        if not isinstance(item.get(fields.text), str):
            result.skipped.append(Skipped(where, f"no string column {fields.text!r}"))
            continue
        id_ = str(item[fields.id]) if item.get(fields.id) is not None else where
        meta = {k: v for k, v in item.items() if k not in (fields.text, fields.id)}
        docs.append(Document(id_, item[fields.text], {**_jsonable(meta), "path": unit.source}))
    return docs


def read_unit(unit: Unit, fields: Fields | None = None) -> tuple[list[Document], list[Skipped]]:
    """The documents of one unit and the rows skipped (bad JSON, no text, repeated id)."""
    fields = fields or Fields()
    result = LoadResult()
    reader = _read_parquet if unit.location.lower().endswith(".parquet") else _read_jsonl
    docs, seen = [], set()
    for doc in reader(unit, fields, result):
        if doc.id in seen:
            result.skipped.append(Skipped(unit.key, f"duplicate id {doc.id!r}"))
            continue
        seen.add(doc.id)
        docs.append(doc)
    return docs, result.skipped
