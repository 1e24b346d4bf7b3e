"""Write a comparison as a self-contained folder: index.html, PNG plots, results.json."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from embedstack._optional import require
from embedstack.atomic import write_bytes
from embedstack.eval.compare import Comparison, SetupResult

PLOTS = {
    "quality_vs_throughput.png": "Quality vs encode throughput",
    "quality_vs_cost.png": "Quality vs cost per million documents",
    "index_memory.png": "Index memory",
}


def plottable(comparison: Comparison) -> dict[str, list[SetupResult]]:
    """The rows each plot would show; a plot with nothing to compare is left out: fewer
    than two setups, or bars that are all the same. Failed setups have no numbers, and
    setups without an encoder (BM25) have no encode throughput."""
    rows = comparison.finished
    chosen = {
        "quality_vs_throughput.png": [r for r in rows if r.throughput_basis == "encode"],
        "quality_vs_cost.png": rows,
        "index_memory.png": rows if len({r.memory_bytes for r in rows}) > 1 else [],
    }
    return {name: shown for name, shown in chosen.items() if len(shown) >= 2}


def _plots(comparison: Comparison, out: Path) -> list[str]:
    """Draw the plots worth drawing; return their file names."""
    shown = plottable(comparison)
    if not shown:
        return []
    matplotlib = require("matplotlib", "eval", "drawing comparison plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = comparison.quality_metric
    for filename, xlabel in (
        ("quality_vs_throughput.png", "documents / second (median, bars: slowest-fastest pass)"),
        ("quality_vs_cost.png", "USD per million documents"),
    ):
        if filename not in shown:
            continue
        rows = shown[filename]
        quality = [r.quality for r in rows]
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
        if filename == "quality_vs_throughput.png":
            x = [r.throughput for r in rows]
            spread = [
                [r.throughput - r.throughput_low for r in rows],
                [r.throughput_high - r.throughput for r in rows],
            ]
            ax.errorbar(x, quality, xerr=spread, fmt="o", capsize=4)
        else:
            x = [r.cost_per_million for r in rows]
            ax.scatter(x, quality)
        for row, xi, yi in zip(rows, x, quality, strict=True):
            ax.annotate(row.name, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
        if min(x) > 0 and max(x) / min(x) > 50:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.set_title(f"{comparison.dataset}: {PLOTS[filename].lower()}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / filename)
        plt.close(fig)
    if "index_memory.png" in shown:
        rows = shown["index_memory.png"]
        fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.45 * len(rows)), dpi=100)
        ax.barh([r.name for r in rows], [r.memory_bytes / 2**20 for r in rows])
        ax.set_xlabel("MiB")
        ax.set_title(f"{comparison.dataset}: index memory")
        fig.tight_layout()
        fig.savefig(out / "index_memory.png")
        plt.close(fig)
    return list(shown)


def _cells(r: SetupResult, metric_names: list[str]) -> list[str]:
    if r.error is not None:
        return [r.name, *("—" for _ in metric_names), *("—" for _ in range(6)),
                f"failed: {r.error}"]  # fmt: skip
    return [
        r.name,
        *(f"{r.metrics.get(m, float('nan')):.4f}" for m in metric_names),
        f"{r.throughput:.1f} ({r.throughput_low:.1f}–{r.throughput_high:.1f})",
        f"{r.cpu_seconds_per_doc * 1000:.2f}",
        f"{r.tokens_per_doc:.1f}",
        f"{r.cost_per_million:.4f}",
        r.cost_basis,
        f"{r.memory_bytes / 2**20:.2f}",
        r.throughput_note,
    ]


def _table(headers: list[str], rows: list[list[Any]], wrap: tuple[int, ...] = ()) -> str:
    """An HTML table; numbers never break across lines, only the columns in `wrap` do."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=wrap' if i in wrap or i - len(row) in wrap else ''}>"
            f"{html.escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(comparison: Comparison, plots: list[str] | None = None) -> str:
    """The self-contained HTML page of a comparison (table + the `plots` drawn)."""
    plots = list(PLOTS) if plots is None else plots
    metric_names = list(dict.fromkeys(m for r in comparison.rows for m in r.metrics))
    headers = ["setup", *metric_names, "docs/s median (range)", "CPU ms/doc", "tokens/doc"]
    headers += ["$ / 1M docs", "cost from", "index MiB", "speed"]
    results = _table(headers, [_cells(r, metric_names) for r in comparison.rows], wrap=(0, -1))
    setups = _table(
        ["setup", "config", "embedding space (model, fingerprint, pooling, ...)"],
        [
            [r.name, json.dumps(r.config, sort_keys=True), json.dumps(r.space, sort_keys=True)]
            for r in comparison.rows
        ],
        wrap=(0, 1, 2),
    )
    env = comparison.environment
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    problems = comparison.validation.get("counts", {})
    validation = (
        "no problems found"
        if not problems
        else "; ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(problems.items()))
    )
    images = (
        "".join(
            f'<figure><img src="{name}" alt="{html.escape(PLOTS[name])}"><figcaption>'
            f"{html.escape(PLOTS[name])}</figcaption></figure>"
            for name in plots
        )
        or "<p>No plots: fewer than two setups with something to compare.</p>"
    )
    skipped = [PLOTS[name].lower() for name in PLOTS if name not in plots]
    if skipped and plots:
        images += (
            f"<p>Not drawn ({html.escape(', '.join(skipped))}): fewer than two setups to "
            "compare, or every setup has the same value.</p>"
        )
    failed = "".join(
        f"<p class=failed>Setup <b>{html.escape(r.name)}</b> failed while running: "
        f"{html.escape(str(r.error))}</p>"
        for r in comparison.failed
    )
    title = f"embedstack compare: {comparison.dataset}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 0.5rem; }}
td {{ white-space: nowrap; }}
td.wrap {{ white-space: normal; word-break: break-word; }}
.failed {{ color: #a00; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Quality metric: <b>{html.escape(comparison.quality_metric)}</b> ({html.escape(comparison.kind)}).
Throughput and CPU cost are measured on a seeded sample of {env.get("throughput_sample")} texts
encoded without the cache, {env.get("throughput_repeats")} timed passes after a short warm-up
(a hosted model: one pass timed in parts); the table gives the median and the
slowest&ndash;fastest range, and the speed column says when a difference from the fastest
setup is within that noise. A setup without an encoder (BM25) is timed building its index
and is not on the encode-throughput plot. Cost is CPU seconds &times; $/CPU-hour
for local setups and tokens &times; $/million tokens for hosted ones.</p>
<h2>Results</h2>
{failed}
{results}
<h2>Plots</h2>
{images}
<h2>Setups</h2>
{setups}
<h2>Reproducibility</h2>
<p>Python {html.escape(str(env.get("python")))} on {html.escape(str(env.get("platform")))},
{html.escape(str(env.get("cpus")))} CPUs; {html.escape(packages)};
seed {html.escape(str(env.get("seed")))};
run at {html.escape(str(env.get("when")))}.</p>
<p>Dataset validation: {html.escape(validation)}.</p>
</body>
</html>
"""


def write_report(comparison: Comparison, out: str | Path) -> Path:
    """Write plots, results.json and index.html into `out`; return the HTML path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in PLOTS:  # a re-run into the same folder must not show old plots
        (folder / stale).unlink(missing_ok=True)
    plots = _plots(comparison, folder)
    write_bytes(folder / "results.json", json.dumps(comparison.to_dict(), indent=2).encode())
    index = folder / "index.html"
    write_bytes(index, render_html(comparison, plots).encode("utf-8"))
    return index
