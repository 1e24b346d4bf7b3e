"""`embedstack migrate`, `versions`, `alias` from the command line, and a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import exact_vectors
from typer.testing import CliRunner

from embedstack.cli.main import app
from embedstack.store.collection import Collection

ROOT = Path(__file__).resolve().parents[2]
BEIR = ROOT / "tests" / "data" / "eval" / "beir_tiny"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def indexed(tmp_path, n: int = 3, model: str = "hash:64") -> Path:
    docs = tmp_path / "docs.jsonl"
    rows = [{"id": f"d{i}", "text": f"text number {i} about subject {i % 5}"} for i in range(n)]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    into = tmp_path / "c.es"
    result = run("index", docs, "--into", into, "--model", model)
    assert result.exit_code == 0, result.output
    return into


def test_versions_json_migrate_rollback_and_drop(tmp_path):
    into = indexed(tmp_path)
    out = run("versions", into, "--json")
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout)
    assert listed["current"] == "v1" and [v["name"] for v in listed["versions"]] == ["v1"]
    assert set(listed["versions"][0]) == {
        "name", "current", "aliases", "state", "rows", "model_spec", "space", "folder"
    }  # fmt: skip

    migrated = run("migrate", into, "--to-model", "hash:32", "--batch-size", "2", "--json")
    assert migrated.exit_code == 0, migrated.output
    summary = json.loads(migrated.stdout)
    assert summary == {
        "version": "v2", "source": "v1", "embedded": 3, "rows": 3, "resumed": False,
        "gate": None, "switched": True, "current": "v2",
    }  # fmt: skip
    listed = json.loads(run("versions", into, "--json").stdout)
    assert listed["current"] == "v2"
    assert [(v["name"], v["rows"], v["space"]["dim"]) for v in listed["versions"]] == [
        ("v1", 3, 64), ("v2", 3, 32)
    ]  # fmt: skip
    hits = json.loads(run("search", "subject 2", "--in", into, "--json").stdout)
    assert hits and Collection.open(into).space.dim == 32

    refused = run("versions", into, "--drop", "v2")
    assert (
        refused.exit_code == 1 and "alias" in refused.stderr and "Traceback" not in refused.output
    )
    assert run("alias", into, "current", "v1").exit_code == 0  # rollback
    assert Collection.open(into).space.dim == 64
    dropped = run("versions", into, "--drop", "v2", "--json")
    assert dropped.exit_code == 0, dropped.output
    assert [v["name"] for v in json.loads(dropped.stdout)["versions"]] == ["v1"]
    assert not (into / "versions" / "v2").exists()
    text = run("versions", into).stdout
    assert "* v1 (current)" in text and "hash:64" in text


def test_eval_gate_refuses_a_worse_model_unless_forced(tmp_path):
    into = indexed(tmp_path, model="hash:256")
    worse = run("migrate", into, "--to-model", "hash:2", "--eval", BEIR, "--json")
    assert worse.exit_code == 1 and "kept v1 current" in worse.stderr
    summary = json.loads(worse.stdout)
    assert summary["gate"]["passed"] is False and summary["gate"]["new"] < summary["gate"]["old"]
    assert summary["switched"] is False and Collection.open(into).version == "v1"
    forced = run("migrate", into, "--to-model", "hash:2", "--eval", BEIR, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    summary = json.loads(forced.stdout)
    assert summary["resumed"] and summary["embedded"] == 0 and summary["current"] == "v2"


def test_postgres_and_options_errors_are_one_line(tmp_path):
    into = indexed(tmp_path)
    bad = run("migrate", into, "--to-model", "hash:32", "--batch-size", "0")
    assert bad.exit_code == 1 and "--batch-size" in bad.stderr
    from embedstack.store.pg_versions import refuse_versions

    with pytest.raises(Exception, match="new PostgreSQL collection"):
        refuse_versions("migrate", "postgresql://db/kb")


@pytest.mark.slow
def test_a_migration_killed_by_sigkill_resumes_and_embeds_nothing_twice(tmp_path):
    n = 300
    into = indexed(tmp_path, n=n)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "EMBEDSTACK_HOME": str(tmp_path / "h")}
    command = [sys.executable, "-m", "embedstack", "migrate", str(into), "--to-model",
               "hash:32", "--batch-size", "1", "--json"]  # fmt: skip
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    committed = 0
    try:
        deadline = time.monotonic() + 120
        while committed < 5 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
            try:
                with Collection.open(into, version="v2") as building:
                    committed = len(building)
            except Exception:  # the version is not created yet
                continue
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL, "the migration finished before it was killed"
    with Collection.open(into, version="v2") as building:
        committed = len(building)  # batches committed before the kill
    assert 5 <= committed < n

    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["resumed"] and summary["rows"] == n and summary["current"] == "v2"
    assert summary["embedded"] == n - committed  # nothing committed was embedded again
    with Collection.open(into) as done:
        assert done.version == "v2"
        exact_vectors(done, 32)
        assert sorted(done.ids()) == sorted(Collection.open(into, version="v1").ids())


def test_drift_checks_the_version_asked_for(tmp_path):
    into = indexed(tmp_path, n=12)
    assert run("migrate", into, "--to-model", "hash:32").exit_code == 0
    current = run("drift", into, "--json")
    assert current.exit_code == 0, current.output
    assert (into / "versions" / "v2" / "drift").is_dir() and not (into / "drift").exists()
    old = run("drift", into, "--version", "v1", "--json")
    assert old.exit_code == 0, old.output
    assert (into / "drift").is_dir()  # v1's profile lives with v1's vectors
