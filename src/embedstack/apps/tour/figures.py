"""The tour's charts (matplotlib, headless): each function writes one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedstack._optional import require


def _pyplot() -> Any:
    require("matplotlib", "eval")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no timestamp: stable bytes
    _pyplot().close(fig)


def heatmap(matrix: np.ndarray, labels: Sequence[str], path: Path) -> None:
    """Pairwise cosine similarities, annotated."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 7))
    image = ax.imshow(matrix, cmap="viridis", vmin=-0.1, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if matrix[i, j] < 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_title("Cosine similarity of ten sentences (all-MiniLM-L6-v2)")
    _save(fig, path)


def bars(values: dict[str, float], ylabel: str, title: str, path: Path) -> None:
    """One bar per setting with its value written on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = list(values)
    ax.bar(names, [values[n] for n in names], color="#4c72b0")
    for i, name in enumerate(names):
        ax.text(i, values[name], f"{values[name]:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(0, max(1.0, max(values.values()) * 1.15))
    _save(fig, path)


def choice_chart(local: list[dict[str, Any]], hosted: dict[str, float], path: Path) -> None:
    """Left: quality vs speed of the local models; right: dollars per million tokens."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for row in local:
        left.scatter(row["texts_per_s"], row["spearman"], s=60)
        left.annotate(
            row["name"],
            (row["texts_per_s"], row["spearman"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    left.set_xscale("log")
    left.set_xlabel("texts per second on this machine (log)")
    left.set_ylabel("Spearman on the tour's pairs")
    left.set_title("Local models: quality x speed")
    costs = {f"{r['name']} (local CPU)": r["usd_per_million"] for r in local}
    costs.update(hosted)
    names = sorted(costs, key=costs.__getitem__)
    right.barh(
        names,
        [max(costs[n], 1e-6) for n in names],
        color=["#55a868" if "local" in n else "#c44e52" for n in names],
    )
    right.set_xscale("log")
    right.set_xlabel("US$ per million tokens (log)")
    right.set_title("Cost: local CPU time vs hosted list prices")
    right.tick_params(axis="y", labelsize=7)
    _save(fig, path)


def scatter_map(points: np.ndarray, groups: Sequence[str], path: Path, title: str) -> None:
    """A 2-D map, one colour per group."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5.5))
    colours = plt.get_cmap("tab20")
    markers = "os^Dv"
    for n, name in enumerate(sorted(set(groups))):
        mask = np.array([g == name for g in groups])
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            label=name,
            s=45,
            color=colours(n % 20),
            marker=markers[n % len(markers)],
        )
    ax.legend(fontsize=7, ncol=2)
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(title)
    _save(fig, path)
