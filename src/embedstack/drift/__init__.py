"""Drift tracking: profile a collection's vectors, then test new data against them."""

from embedstack.drift.compare import DriftReport, Thresholds, compare, compare_spaces
from embedstack.drift.profile import Profile, load_profile, profile, save_profile
from embedstack.drift.snapshots import Snapshot, append_snapshot, load_snapshots, plot_snapshots
from embedstack.drift.track import TrackResult, build_profile, drift_dir, new_rows, track

__all__ = [
    "DriftReport",
    "Profile",
    "Snapshot",
    "Thresholds",
    "TrackResult",
    "append_snapshot",
    "build_profile",
    "compare",
    "compare_spaces",
    "drift_dir",
    "load_profile",
    "load_snapshots",
    "new_rows",
    "plot_snapshots",
    "profile",
    "save_profile",
    "track",
]
