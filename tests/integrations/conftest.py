"""Shared set-up for the framework adapter tests: offline, no telemetry, asyncio."""

from __future__ import annotations

import os

import pytest

# Haystack sends anonymous usage telemetry by default; tests stay offline.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
