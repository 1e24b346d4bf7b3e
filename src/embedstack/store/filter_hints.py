"""Why a filter matched nothing: range operators never compare a number with a string.

`{"year": {"$gte": "2020"}}` on rows storing `year` as the integer 2021 matches no row
(filters are type-strict, see `store/filters.py`), which looks like "no results". These
helpers find such comparisons so the CLI can say so instead of staying silent.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, Protocol

_RANGE = ("$gt", "$gte", "$lt", "$lte")


class FilterTypeWarning(UserWarning):
    """A range filter compares a number with a string, so it matches nothing."""


_LOGICAL = ("$and", "$or")


class _Filterable(Protocol):
    def ids_where(self, where: dict[str, Any]) -> list[str]: ...


def range_conditions(where: dict[str, Any] | None) -> Iterator[tuple[str, str, Any]]:
    """Every `(field, operator, value)` range comparison in a filter, nested ones too."""
    stack: list[Any] = [where or {}]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        for key, spec in item.items():
            if key in _LOGICAL and isinstance(spec, list):
                stack.extend(spec)
            elif isinstance(spec, dict):
                for op, value in spec.items():
                    if op in _RANGE and not isinstance(value, bool) and value is not None:
                        yield key, op, value


def _other_type_probe(field: str, value: Any) -> dict[str, Any] | None:
    """A filter matching rows whose `field` holds the other type than `value`."""
    if isinstance(value, str):
        return {field: {"$gt": -1.0e308}}  # any number
    if isinstance(value, int | float):
        return {field: {"$gte": ""}}  # any string
    return None


def range_type_warnings(collection: _Filterable, where: dict[str, Any] | None) -> list[str]:
    """One message per range comparison that matches no row while the field holds
    values of the other type (a number compared with a string, or the reverse)."""
    messages = []
    for field, op, value in range_conditions(where):
        probe = _other_type_probe(field, value)
        if probe is None or collection.ids_where({field: {op: value}}):
            continue
        if collection.ids_where(probe):
            kind, stored = (
                ("a string", "numbers") if isinstance(value, str) else ("a number", "strings")
            )
            fixed = _retyped(value)
            hint = f"; write {json.dumps({field: {op: fixed}})}" if fixed is not None else ""
            messages.append(
                f"filter {json.dumps({field: {op: value}})} compares {kind} with the {stored} "
                f"stored in {field!r}: range operators never compare a number with a string, "
                f"so it matches nothing{hint}"
            )
    return messages


def warn_range_types(
    collection: _Filterable, where: dict[str, Any] | None, results: list[list[Any]], k: int
) -> None:
    """Warn (FilterTypeWarning) when a filtered search came back short because a range
    compared a number with a string; costs nothing for unfiltered or full results."""
    if not where or all(len(hits) >= k for hits in results):
        return
    for message in range_type_warnings(collection, where):
        warnings.warn(message, FilterTypeWarning, stacklevel=3)


def _retyped(value: Any) -> Any:
    """The value in the other type, when it converts cleanly ("2020" -> 2020)."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return str(value)
