"""Metadata filters (`where`) compiled to SQL over the JSON metadata column.

Forms: `{"field": value}` (equality; `None` matches a missing or null field),
`{"field": {"$in": [...]}}`, `$nin`, `$ne`, `$eq`, `$gt`, `$gte`, `$lt`, `$lte`,
`$exists` (true: the key is present, even with a null value). Several fields (and
several operators on one field) all have to hold. `{"$and": [filter, ...]}` and
`{"$or": [filter, ...]}` combine sub-filters and nest. Range operators are type-strict:
a number never compares with a string, so `{"year": {"$gt": 2000}}` skips `"2001"`.
Filters run in SQLite before top-k, so a filtered search is still exact.
"""

from __future__ import annotations

from typing import Any

from embedstack.errors import InputError

Scalar = str | int | float | bool | None
_RANGE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPERATORS = ("$eq", "$ne", "$in", "$nin", *_RANGE, "$exists")
_LOGICAL = ("$and", "$or")
MAX_DEPTH = 32  # nesting of $and/$or: deeper filters are refused, not a RecursionError


def _valid() -> str:
    return f"field operators {', '.join(_OPERATORS)}; combinators {', '.join(_LOGICAL)}"


def _path(field: str) -> str:
    if isinstance(field, str) and field.startswith("$"):
        raise InputError(f"unknown filter operator {field!r} at the top of a filter: {_valid()}")
    if not isinstance(field, str) or not field or '"' in field:
        raise InputError(
            f"bad filter field {field!r}: use a metadata key (no '\"', not starting with '$')"
        )
    return f'$."{field}"'


def _scalar(value: Any, field: str) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InputError(
        f"filter value for {field!r} must be a string, number, boolean or null, "
        f"got {type(value).__name__}"
    )


def _type_guard(value: Scalar) -> str:
    if isinstance(value, bool):
        return "json_type(metadata, ?) IN ('true', 'false')"
    if isinstance(value, int | float):
        return "json_type(metadata, ?) IN ('integer', 'real')"
    return "json_type(metadata, ?) = 'text'"


def _condition(field: str, op: str, value: Any) -> tuple[str, list[Any]]:
    path = _path(field)
    column = "json_extract(metadata, ?)"
    if op == "$exists":
        if not isinstance(value, bool):
            raise InputError(f"$exists for {field!r} needs true or false, got {value!r}")
        return f"json_type(metadata, ?) IS {'NOT ' if value else ''}NULL", [path]
    if op in ("$in", "$nin"):
        if not isinstance(value, list | tuple | set):
            raise InputError(f"{op} for {field!r} needs a list, got {type(value).__name__}")
        items = [_scalar(v, field) for v in value]
        if not items:
            return ("0" if op == "$in" else "1"), []
        # SQL's IN is three-valued with NULL; null (a missing key or JSON null) is
        # matched explicitly so that null in the list means what it says.
        values = [v for v in items if v is not None]
        has_null = len(values) < len(items)
        marks = ", ".join("?" for _ in values)
        if op == "$in":
            parts, params = [], []
            if values:
                parts.append(f"{column} IN ({marks})")
                params += [path, *values]
            if has_null:
                parts.append(f"{column} IS NULL")
                params.append(path)
            return "(" + " OR ".join(parts) + ")", params
        if not has_null:
            return f"({column} IS NULL OR {column} NOT IN ({marks}))", [path, path, *values]
        if not values:
            return f"{column} IS NOT NULL", [path]
        return f"({column} IS NOT NULL AND {column} NOT IN ({marks}))", [path, path, *values]
    scalar = _scalar(value, field)
    if op == "$eq":
        return f"{column} IS ?", [path, scalar]
    if op == "$ne":
        return f"{column} IS NOT ?", [path, scalar]
    if op in _RANGE:
        if scalar is None:
            raise InputError(f"{op} for {field!r} needs a value, not null")
        return f"({_type_guard(scalar)} AND {column} {_RANGE[op]} ?)", [path, path, scalar]
    raise InputError(f"unknown filter operator {op!r} for {field!r}: {_valid()}")


def _logical(op: str, subfilters: Any, depth: int) -> tuple[str, list[Any]]:
    if not isinstance(subfilters, list) or not subfilters:
        raise InputError(
            f"{op} needs a non-empty list of filters such as "
            f'[{{"lang": "en"}}, {{"year": {{"$gte": 2020}}}}], got {subfilters!r}'
        )
    parts: list[str] = []
    params: list[Any] = []
    for sub in subfilters:
        if not isinstance(sub, dict):
            raise InputError(f"each filter in {op} must be a dict, got {sub!r}")
        sql, values = _compile(sub, depth + 1)
        parts.append(f"({sql})")
        params.extend(values)
    joiner = " AND " if op == "$and" else " OR "
    return joiner.join(parts), params


def _compile(where: dict[str, Any], depth: int = 0) -> tuple[str, list[Any]]:
    if depth > MAX_DEPTH:
        raise InputError(
            f"the filter nests $and/$or more than {MAX_DEPTH} levels deep: "
            "flatten it (a list inside one $and/$or takes any number of conditions)"
        )
    parts: list[str] = []
    params: list[Any] = []
    for field, spec in where.items():
        if field in _LOGICAL:
            conditions = [_logical(field, spec, depth)]
        elif isinstance(spec, dict):
            if not spec:
                raise InputError(f"empty operator dict for {field!r}: {_valid()}")
            conditions = [_condition(field, op, value) for op, value in spec.items()]
        else:
            conditions = [_condition(field, "$eq", spec)]
        for sql, values in conditions:
            parts.append(f"({sql})")
            params.extend(values)
    return (" AND ".join(parts) or "1"), params


def compile_where(where: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL condition on the `metadata` column plus its parameters; `("1", [])` for none."""
    if not where:
        return "1", []
    if not isinstance(where, dict):
        raise InputError(f"where must be a dict such as {{'lang': 'en'}}, got {where!r}")
    return _compile(where)
