"""Drift over time: every run appends a snapshot (timestamp, verdict, metrics); a PNG
plots the key metrics run by run, so a slow slide is as visible as a sudden jump."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack import atomic
from embedstack._optional import require
from embedstack.drift.compare import DriftReport
from embedstack.errors import CollectionError

SNAPSHOTS = "snapshots.json"
# Dashed reference line per panel: the metric in each snapshot that gives its level.
_GUIDES = {"mmd_p": "test_level", "outlier_rate": "outlier_expected"}
# (metric, label) drawn in the plot, one panel each, when any snapshot has it.
PLOTTED = (
    ("centroid_cosine_shift", "centroid cosine shift"),
    ("mmd_p", "MMD p-value"),
    ("outlier_rate", "outlier rate"),
    ("ks_dims_shifted_frac", "share of dims shifted (KS)"),
    ("overlap@10", "neighbourhood overlap@10"),
    ("similarity_spearman", "similarity Spearman"),
)


@dataclass
class Snapshot:
    """One drift check's outcome at a point in time."""

    timestamp: float
    drift: bool
    source: str
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as a JSON-ready dict."""
        return {
            "timestamp": self.timestamp,
            "drift": self.drift,
            "source": self.source,
            "reasons": self.reasons,
            "metrics": self.metrics,
        }


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def load_snapshots(folder: str | Path) -> list[Snapshot]:
    """Snapshots saved under `folder`, oldest first (none yet: empty list)."""
    path = Path(folder) / SNAPSHOTS
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Snapshot(**row) for row in rows]
    except (ValueError, TypeError) as exc:
        raise CollectionError(
            f"{path} is unreadable ({exc}): move it away to start a new history"
        ) from None


def append_snapshot(
    folder: str | Path, report: DriftReport, source: str, timestamp: float | None = None
) -> Snapshot:
    """Add one run's result to the history (rewritten atomically, so never torn)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    snap = Snapshot(
        timestamp=time.time() if timestamp is None else timestamp,
        drift=report.drift,
        source=source,
        reasons=list(report.reasons),
        metrics=_clean(dict(report.metrics)),
    )
    with _locked(root / ".snapshots.lock"):
        history = [*load_snapshots(root), snap]
        atomic.write_json(root / SNAPSHOTS, [s.to_dict() for s in history])
    return snap


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-append-write between processes (POSIX advisory lock), so two
    runs at once never drop each other's snapshot."""
    try:
        import fcntl
    except ImportError:  # not POSIX: one writer at a time is the caller's job
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def plot_snapshots(snapshots: list[Snapshot], path: str | Path) -> Path:
    """Write a PNG with one panel per tracked metric over the runs; runs flagged as
    drift are drawn in red. Needs matplotlib (`pip install 'embedstack[eval]'`)."""
    require("matplotlib", "eval", "drawing drift plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not snapshots:
        raise CollectionError("no drift snapshots to plot yet: run `embedstack drift` first")
    panels = [(k, label) for k, label in PLOTTED if any(k in s.metrics for s in snapshots)]
    panels = panels or [("rows", "rows compared")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels) + 0.6), sharex=True)
    axes = [axes] if len(panels) == 1 else list(axes)
    runs = list(range(1, len(snapshots) + 1))
    for ax, (key, label) in zip(axes, panels, strict=True):
        values = [s.metrics.get(key) for s in snapshots]
        ys = [float("nan") if v is None else float(v) for v in values]
        ax.plot(runs, ys, color="#4C72B0", marker="o", linewidth=1.5)
        flagged = [(r, y) for r, y, s in zip(runs, ys, snapshots, strict=True) if s.drift]
        if flagged:
            ax.scatter(*zip(*flagged, strict=True), color="#C44E52", zorder=3, label="drift")
        guide = next((s.metrics.get(_GUIDES.get(key, "")) for s in reversed(snapshots)), None)
        if isinstance(guide, int | float):
            ax.axhline(float(guide), color="grey", linestyle="--", linewidth=1)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_title(
        "embedstack drift: runs over time (red = drift flagged, dashed = test level)", fontsize=10
    )
    stamps = [
        f"#{n} {time.strftime('%m-%d %H:%M', time.gmtime(s.timestamp))}"
        for n, s in enumerate(snapshots, 1)
    ]
    axes[-1].set_xticks(runs)
    axes[-1].set_xticklabels(stamps, rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    atomic.write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    return out
