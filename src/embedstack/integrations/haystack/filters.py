"""Haystack filter dicts -> embedstack's `where` language.

Haystack filters look like `{"field": "meta.year", "operator": ">=", "value": 2020}` or
`{"operator": "AND", "conditions": [...]}`. A dict without an `operator` key is taken as
an embedstack `where` filter already, so both styles work.
"""

from __future__ import annotations

from typing import Any

from embedstack.errors import InputError

_COMPARISONS = {
    "==": "$eq",
    "!=": "$ne",
    ">": "$gt",
    ">=": "$gte",
    "<": "$lt",
    "<=": "$lte",
    "in": "$in",
    "not in": "$nin",
}
_LOGICAL = {"AND": "$and", "OR": "$or"}


def to_where(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Translate Haystack filters into the embedstack where language (None if empty)."""
    if not filters:
        return None
    if not isinstance(filters, dict):
        raise InputError(f"filters must be a dict, got {type(filters).__name__}")
    if "operator" not in filters:
        return filters  # already the embedstack where language
    operator = filters["operator"]
    if "conditions" in filters:
        if operator not in _LOGICAL:
            raise InputError(
                f"logical operator {operator!r} is not supported; use AND or OR "
                "(negate comparisons instead of NOT: '!=' for '==', 'not in' for 'in')"
            )
        parts = [to_where(c) for c in filters["conditions"]]
        return {_LOGICAL[operator]: [p for p in parts if p]}
    field = filters.get("field", "")
    if not isinstance(field, str) or not field.startswith("meta."):
        raise InputError(
            f"filter field {field!r} is not supported: collections filter on metadata, "
            "so use 'meta.<key>'"
        )
    if operator not in _COMPARISONS:
        raise InputError(
            f"filter operator {operator!r} is not supported; use one of " + ", ".join(_COMPARISONS)
        )
    return {field.removeprefix("meta."): {_COMPARISONS[operator]: filters.get("value")}}
