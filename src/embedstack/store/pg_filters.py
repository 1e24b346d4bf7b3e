"""`where` filters compiled to Postgres SQL over the JSONB metadata column.

Same forms and the same answers as the embedded store's filters (`store/filters.py`,
checked by one random-filter oracle test over both backends). Two differences between
SQLite and Postgres are bridged here rather than leaked to users:

- SQLite's `json_extract` turns JSON true/false into 1/0, so `{"flag": 1}` matches
  `true` (as Python's `True == 1`); JSONB keeps booleans apart, so equality compares
  against every JSON value Python would call equal.
- string ranges compare code points (SQLite's BINARY collation): `COLLATE "C"` here,
  whatever the database's collation.

Every value and field name is a bound parameter; the SQL text is fixed.
"""

from __future__ import annotations

from typing import Any

from embedstack.store.filters import compile_where
from embedstack.store.pg_connect import psycopg

_RANGE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
Compiled = tuple[Any, list[Any]]  # (psycopg.sql.Composable, parameters)


def _equal_values(value: Any) -> list[Any]:
    """The JSON values that Python equality (and SQLite) treat as equal to `value`."""
    if isinstance(value, bool):
        return [value, int(value)]
    if isinstance(value, int | float):
        return [value, *([True] if value == 1 else [False] if value == 0 else [])]
    return [value]


def _sql(text: str) -> Any:
    return psycopg().sql.SQL(text)


def _jsonb(value: Any) -> Any:
    return psycopg().types.json.Jsonb(value)


def _equals(field: str, values: list[Any]) -> Compiled:
    """The field is one of `values` (a missing or null field never is)."""
    candidates = [c for v in values for c in _equal_values(v)]
    marks = ", ".join("%s" for _ in candidates)
    return _sql(f"COALESCE((metadata -> %s) IN ({marks}), false)"), [
        field,
        *(_jsonb(c) for c in candidates),
    ]


def _is_null(field: str) -> Compiled:
    return _sql("COALESCE(jsonb_typeof(metadata -> %s) = 'null', true)"), [field]


def _either(parts: list[Compiled], joiner: str, empty: str) -> Compiled:
    if not parts:
        return _sql(empty), []
    sql = _sql(f" {joiner} ").join(_sql("({})").format(p[0]) for p in parts)
    return sql, [param for _, params in parts for param in params]


def _not(compiled: Compiled) -> Compiled:
    return _sql("NOT ({})").format(compiled[0]), compiled[1]


def _one_of(field: str, items: list[Any]) -> Compiled:
    values = [v for v in items if v is not None]
    parts = [_equals(field, values)] if values else []
    if len(values) < len(items):
        parts.append(_is_null(field))
    return _either(parts, "OR", "false")


def _range(field: str, op: str, value: Any) -> Compiled:
    """Type-strict: numbers compare with numbers, strings with strings, booleans with
    booleans. CASE, not AND: Postgres may evaluate a cast before the type test."""
    symbol = _RANGE[op]
    if isinstance(value, bool):
        kind, test = "boolean", f"(metadata -> %s)::boolean {symbol} %s"
    elif isinstance(value, int | float):
        kind, test = "number", f"(metadata ->> %s)::float8 {symbol} %s::float8"
        value = float(value)
    else:
        kind, test = "string", f'(metadata ->> %s) COLLATE "C" {symbol} %s COLLATE "C"'
    text = f"CASE WHEN jsonb_typeof(metadata -> %s) = '{kind}' THEN {test} ELSE false END"
    return _sql(text), [field, field, value]


def _condition(field: str, op: str, value: Any) -> Compiled:
    if op == "$exists":
        compiled = (_sql("(metadata ? %s)"), [field])
        return compiled if value else _not(compiled)
    if op in ("$in", "$nin"):
        compiled = _one_of(field, list(value))
        return compiled if op == "$in" else _not(compiled)
    if op in ("$eq", "$ne"):
        compiled = _is_null(field) if value is None else _equals(field, [value])
        return compiled if op == "$eq" else _not(compiled)
    return _range(field, op, value)


def _compile(where: dict[str, Any]) -> Compiled:
    parts: list[Compiled] = []
    for field, spec in where.items():
        if field in ("$and", "$or"):
            subs = [_compile(sub) for sub in spec]
            parts.append(_either(subs, "AND" if field == "$and" else "OR", "true"))
        elif isinstance(spec, dict):
            parts += [_condition(field, op, value) for op, value in spec.items()]
        else:
            parts.append(_condition(field, "$eq", spec))
    return _either(parts, "AND", "true")


def compile_where_pg(where: dict[str, Any] | None) -> Compiled:
    """SQL condition on `metadata` plus its parameters; `true` for no filter.

    The filter is first validated by the embedded compiler, so bad filters fail with the
    very same messages on both backends."""
    if not where:
        return _sql("true"), []
    compile_where(where)
    return _compile(where)
