"""LlamaIndex `MetadataFilters` -> embedstack's `where` language (evaluated in SQLite
before ranking). Operators with no equivalent are refused, never ignored."""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from embedstack.errors import InputError

_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
}


def _one(item: MetadataFilter) -> dict[str, Any]:
    if item.operator == FilterOperator.IS_EMPTY:
        return {item.key: None}  # missing or null
    op = _OPERATORS.get(FilterOperator(item.operator))
    if op is None:
        supported = ", ".join(o.value for o in (*_OPERATORS, FilterOperator.IS_EMPTY))
        raise InputError(
            f"filter operator {item.operator.value!r} on {item.key!r} is not supported by "
            f"embedstack collections; use one of: {supported}"
        )
    value = list(item.value) if op in ("$in", "$nin") else item.value  # type: ignore[arg-type]
    return {item.key: {op: value}}


def to_where(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """The equivalent `where` dict (None for no filters); nested filter groups nest."""
    if filters is None or not filters.filters:
        return None
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:
        raise InputError(
            "the 'not' filter condition is not supported: negate each filter instead "
            "(e.g. '!=' for '==', 'nin' for 'in')"
        )
    parts = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            nested = to_where(item)
            if nested is not None:
                parts.append(nested)
        else:
            parts.append(_one(item))
    if len(parts) == 1:
        return parts[0]
    return {"$and" if condition == FilterCondition.AND else "$or": parts}
