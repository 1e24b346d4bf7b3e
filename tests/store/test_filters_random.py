"""`where` filters compiled to SQL agree with a plain Python evaluation of the same
filters on random metadata (seeded), including nested `$and`/`$or` and `$exists`, on
both backends (SQLite JSON in the embedded store, JSONB in PostgreSQL)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from embedstack.store.collection import Collection

FIELDS = ["a", "b", "c"]
VALUES: list[Any] = [-1, 0, 1, 2, 0.5, 2.0, "x", "y", "1", "", True, False, None]


def random_metadata(rng: random.Random) -> dict[str, Any]:
    return {f: rng.choice(VALUES) for f in FIELDS if rng.random() < 0.75}


def random_leaf(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(FIELDS)
    if rng.random() < 0.25:
        return {field: rng.choice(VALUES)}
    ops: dict[str, Any] = {}
    for _ in range(rng.randint(1, 2)):
        op = rng.choice(["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"])
        if op in ("$in", "$nin"):
            ops[op] = rng.sample([v for v in VALUES if v is not None], rng.randint(0, 3))
        elif op == "$exists":
            ops[op] = rng.random() < 0.5
        elif op in ("$eq", "$ne"):
            ops[op] = rng.choice(VALUES)
        else:
            ops[op] = rng.choice([v for v in VALUES if v is not None])
    return {field: ops}


def random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth >= 3 or rng.random() < 0.4:
        where = random_leaf(rng)
    else:
        op = rng.choice(["$and", "$or"])
        where = {op: [random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    if rng.random() < 0.2:  # a second key in the same dict: implicit AND
        extra = random_leaf(rng)
        extra.update(where)
        where = extra
    return where


def _group(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "text"


def _holds(meta: dict[str, Any], field: str, op: str, target: Any) -> bool:
    """The documented semantics: equality with None matches missing or null; ranges only
    compare within one type (numbers, strings, booleans)."""
    value = meta.get(field)
    if op == "$exists":
        return (field in meta) == target
    if op == "$eq":
        return value == target
    if op == "$ne":
        return value != target
    if op == "$in":
        return value is not None and any(value == t for t in target)
    if op == "$nin":
        return value is None or not any(value == t for t in target)
    if value is None or _group(value) != _group(target):
        return False
    return {
        "$gt": value > target,
        "$gte": value >= target,
        "$lt": value < target,
        "$lte": value <= target,
    }[op]


def matches(meta: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, spec in where.items():
        if key == "$and":
            ok = all(matches(meta, sub) for sub in spec)
        elif key == "$or":
            ok = any(matches(meta, sub) for sub in spec)
        elif isinstance(spec, dict):
            ok = all(_holds(meta, key, op, target) for op, target in spec.items())
        else:
            ok = _holds(meta, key, "$eq", spec)
        if not ok:
            return False
    return True


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sql_filters_match_python_evaluation(backend, counting_encoder, seed):
    rng = random.Random(seed)
    metadata = [random_metadata(rng) for _ in range(60)]
    ids = [f"r{i}" for i in range(len(metadata))]
    collection = Collection.create(backend, counting_encoder, indexes=())
    collection.add([f"text {i}" for i in ids], ids=ids, metadata=metadata)
    query = np.ones(collection.space.dim, dtype=np.float32)
    nonempty = 0
    for _ in range(150):
        where = random_filter(rng)
        expected = {i for i, meta in zip(ids, metadata, strict=True) if matches(meta, where)}
        got = {h.id for h in collection.search_vector(query, k=len(ids), where=where)}
        assert got == expected, where
        nonempty += 0 < len(expected) < len(ids)
    assert nonempty > 30  # the random filters actually discriminate
    collection.close()
