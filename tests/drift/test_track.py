import json
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from embedstack.drift import (
    build_profile,
    drift_dir,
    load_profile,
    load_snapshots,
    new_rows,
    plot_snapshots,
    track,
)
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError, SpaceMismatchError
from embedstack.store.collection import Collection

DATA = Path(__file__).parent.parent / "data"


def demo_rows() -> list[dict]:
    corpus = resources.files("embedstack") / "data" / "demo" / "corpus.jsonl"
    return [json.loads(line) for line in corpus.read_text().splitlines() if line]


def captions(n: int = 40) -> list[str]:
    path = DATA / "dedup_captions.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines()][:n]


def halves() -> tuple[list[dict], list[dict]]:
    rows = demo_rows()
    order = np.random.default_rng(0).permutation(len(rows))
    return [rows[i] for i in order[:20]], [rows[i] for i in order[20:]]


def make(path: Path, rows: list[dict], dim: int = 256) -> Collection:
    col = Collection.create(path, HashEncoder(dim), indexes=())
    col.add([r["text"] for r in rows], ids=[r["id"] for r in rows])
    return col


def test_first_run_profiles_then_only_new_rows_are_compared(tmp_path):
    first, second = halves()
    col = make(tmp_path / "c", first)
    run = track(col)
    assert run.profiled and not run.compared and not run.report.drift
    assert "built one from 20 rows" in run.message
    assert (drift_dir(col) / "profile.json").exists()
    assert load_snapshots(drift_dir(col)) == []

    again = track(col)
    assert not again.compared and "0 rows added" in again.message

    col.add([r["text"] for r in second], ids=[r["id"] for r in second])
    same = track(col)
    assert same.compared and not same.report.drift, same.report.reasons
    assert same.report.metrics["rows"] == 20

    # A 20-row reference has little power: 80 captions among the 100 new rows show it.
    col.add(captions(80), ids=[f"cap{i}" for i in range(80)])
    moved = track(col)
    assert moved.report.drift
    assert moved.report.metrics["rows"] == 100  # everything added since the profile

    history = load_snapshots(drift_dir(col))
    assert [s.drift for s in history] == [False, True]
    assert history[1].metrics["rows"] == 100
    png = plot_snapshots(history, tmp_path / "out" / "drift.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_profile_survives_reopen_and_changed_texts_count_as_new(tmp_path):
    first, _ = halves()
    make(tmp_path / "c", first).close()
    with Collection.open(tmp_path / "c") as col:
        build_profile(col)
    with Collection.open(tmp_path / "c") as col:  # open runs the store's orphan cleanup
        prof = load_profile(drift_dir(col))
        assert prof is not None and prof.count == 20 and len(prof.seen) == 20
        assert new_rows(col, prof) == []
        col.upsert(["a completely different text"], ids=[first[0]["id"]])
        col.add(["brand new"], ids=["new-1"])
        assert sorted(new_rows(col, prof)) == sorted([first[0]["id"], "new-1"])


def test_profile_of_another_space_is_refused(tmp_path):
    rows = demo_rows()
    a = make(tmp_path / "a", rows, dim=64)
    build_profile(a)
    b = make(tmp_path / "b", rows, dim=32)
    shutil.copytree(drift_dir(a), drift_dir(b))
    with pytest.raises(SpaceMismatchError, match="dim: 64 != 32"):
        track(b)


def test_against_texts_and_collections(tmp_path):
    rows = demo_rows()
    col = make(tmp_path / "c", rows)
    texts = track(col, captions())
    assert texts.profiled and texts.compared and texts.report.drift

    twin = make(tmp_path / "twin", rows)
    same_space = track(col, twin)
    assert same_space.compared and not same_space.report.drift
    assert same_space.report.metrics["mmd_p"] == 1.0

    other = make(tmp_path / "other", rows, dim=64)
    spaces = track(col, other)
    metrics = spaces.report.metrics
    assert {"overlap@10", "similarity_spearman", "top10_agreement"} <= set(metrics)
    assert metrics["space_diff"] == ["model: 'hash:256' != 'hash:64'", "dim: 256 != 64"]
    assert 0.0 <= metrics["overlap@10"] <= 1.0
    assert len(load_snapshots(drift_dir(col))) == 3

    with pytest.raises(InputError, match="at least 5 texts"):
        track(col, ["one", "two"])


def test_different_spaces_need_shared_ids(tmp_path):
    col = make(tmp_path / "c", demo_rows())
    other = Collection.create(tmp_path / "o", HashEncoder(64), indexes=())
    other.add(captions(), ids=[f"cap{i}" for i in range(40)])
    with pytest.raises(InputError, match="share only 0 ids"):
        track(col, other)


def test_rebuild_replaces_the_profile(tmp_path):
    first, second = halves()
    col = make(tmp_path / "c", first)
    build_profile(col)
    col.add([r["text"] for r in second], ids=[r["id"] for r in second])
    run = track(col, rebuild=True)
    assert run.profiled and load_profile(drift_dir(col)).count == 40
    assert len(list(drift_dir(col).glob("profile-*.npy"))) == 3  # old arrays removed


def test_concurrent_snapshot_appends_are_all_kept(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from embedstack.drift import DriftReport, append_snapshot

    def write(n: int) -> None:
        for k in range(5):
            append_snapshot(tmp_path, DriftReport(False, [], {"run": n * 10 + k}), "test")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    runs = sorted(s.metrics["run"] for s in load_snapshots(tmp_path))
    assert runs == sorted(n * 10 + k for n in range(4) for k in range(5))


def test_damaged_profile_and_history_say_how_to_fix(tmp_path):
    from embedstack.errors import CollectionError

    col = make(tmp_path / "c", demo_rows())
    build_profile(col)
    folder = drift_dir(col)
    next(folder.glob("profile-sample-*.npy")).write_bytes(b"not numpy")
    with pytest.raises(CollectionError, match=r"delete .*profile\.json"):
        load_profile(folder)
    (folder / "snapshots.json").write_text("{broken")
    with pytest.raises(CollectionError, match="move it away"):
        load_snapshots(folder)
