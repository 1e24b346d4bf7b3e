"""Fixtures shared by the collection tests (helpers live in store_helpers.py)."""

from __future__ import annotations

import pytest
from store_helpers import CountingEncoder


@pytest.fixture
def counting_encoder() -> CountingEncoder:
    return CountingEncoder(64)


@pytest.fixture
def kw_index(monkeypatch: pytest.MonkeyPatch):
    """Register the tiny keyword index (tests/store/tiny_index.py) as index type "kw"."""
    from tiny_index import LOADS, KeywordIndex

    from embedstack.store import indexes

    monkeypatch.setitem(indexes.INDEX_TYPES, "kw", KeywordIndex)
    LOADS.clear()
    return KeywordIndex
