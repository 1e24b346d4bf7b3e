"""Run lanes: a batch split into balanced row slices run concurrently on one session."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_tiny_model, reference_hidden

from embedstack.encoders.lanes import RunLanes
from embedstack.encoders.runtime import CPU, lane_count
from embedstack.encoders.transformer import TransformerModel

TEXTS = ["the cat sat on the mat", "hello", "a big red house by the river ! ?", "dogs ran", "x"]


def test_split_is_balanced_contiguous_and_covers_every_row() -> None:
    lanes = RunLanes(3)
    assert lanes.split(0) == []
    assert lanes.split(1) == [(0, 1)]  # one row: one lane
    assert lanes.split(7) == [(0, 2), (2, 4), (4, 7)]
    for rows in range(1, 40):
        ranges = lanes.split(rows)
        sizes = [stop - start for start, stop in ranges]
        assert ranges[0][0] == 0 and ranges[-1][1] == rows
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert max(sizes) - min(sizes) <= 1 and len(ranges) == min(3, rows)


def test_map_runs_slices_concurrently_and_keeps_order() -> None:
    lanes = RunLanes(2)
    both_running = threading.Barrier(2, timeout=10)  # deadlocks unless two run at once
    seen: list[str] = []

    def run(start: int, stop: int) -> tuple[int, int]:
        both_running.wait()
        seen.append(threading.current_thread().name)
        return start, stop

    assert lanes.map(run, 9) == [(0, 4), (4, 9)]
    assert len(set(seen)) == 2
    assert RunLanes(1).map(lambda a, b: (a, b), 5) == [(0, 5)]


def test_errors_in_a_lane_reach_the_caller() -> None:
    def run(start: int, stop: int) -> int:
        if start > 0:
            raise ValueError("lane two failed")
        return stop

    with pytest.raises(ValueError, match="lane two failed"):
        RunLanes(2).map(run, 4)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool() -> None:
    lanes = RunLanes(2)
    assert lanes.map(lambda a, b: b - a, 4) == [2, 2]  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # child: the parent's pool threads do not exist here
        code = 0 if RunLanes.map(lanes, lambda a, b: b - a, 4) == [2, 2] else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_lane_count_is_per_core_on_cpu_only() -> None:
    assert lane_count([CPU], 3) == 3
    assert lane_count([CPU], 1) == 1
    assert lane_count(["CUDAExecutionProvider", CPU], 4) == 1


@pytest.mark.torch
def test_lanes_give_the_same_hidden_states(tmp_path: Path) -> None:
    torch_model = make_tiny_model(tmp_path / "bert", "bert")
    one = TransformerModel.from_dir(tmp_path / "bert", threads=1)
    three = TransformerModel.from_dir(tmp_path / "bert", threads=3)
    assert one.lanes.lanes == 1 and three.lanes.lanes == 3 and three.threads == 3
    assert three.session.get_session_options().intra_op_num_threads == 1
    batch = three.tokenize(TEXTS)
    ref = reference_hidden(torch_model, batch)
    for model in (one, three):
        ours = model.hidden_states(batch)
        assert ours.shape == ref.shape
        assert np.abs(ours - ref).max() < 1e-4
    np.testing.assert_allclose(one.hidden_states(batch), three.hidden_states(batch), atol=1e-5)
