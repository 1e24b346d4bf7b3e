"""Write a comparison as a self-contained folder: index.html, PNG plots, results.json."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from embedstack._optional import require
from embedstack.atomic import write_bytes
from embedstack.eval.compare import Comparison

PLOTS = {
    "quality_vs_throughput.png": "Quality vs encode throughput",
    "quality_vs_cost.png": "Quality vs cost per million documents",
    "index_memory.png": "Index memory",
}


def _plots(comparison: Comparison, out: Path) -> None:
    matplotlib = require("matplotlib", "eval", "drawing comparison plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in comparison.rows]
    quality = [r.quality for r in comparison.rows]
    label = comparison.quality_metric
    for filename, x, xlabel in (
        (
            "quality_vs_throughput.png",
            [r.throughput for r in comparison.rows],
            "documents / second",
        ),
        (
            "quality_vs_cost.png",
            [r.cost_per_million for r in comparison.rows],
            "USD per million documents",
        ),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
        ax.scatter(x, quality)
        for name, xi, yi in zip(names, x, quality, strict=True):
            ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
        if len(set(x)) > 1 and min(x) > 0 and max(x) / min(x) > 50:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.set_title(f"{comparison.dataset}: {PLOTS[filename].lower()}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / filename)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.45 * len(names)), dpi=100)
    ax.barh(names, [r.memory_bytes / 2**20 for r in comparison.rows])
    ax.set_xlabel("MiB")
    ax.set_title(f"{comparison.dataset}: index memory")
    fig.tight_layout()
    fig.savefig(out / "index_memory.png")
    plt.close(fig)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(comparison: Comparison) -> str:
    """The self-contained HTML page of a comparison (table + embedded plots)."""
    metric_names = list(dict.fromkeys(m for r in comparison.rows for m in r.metrics))
    results = _table(
        [
            "setup",
            *metric_names,
            "docs/s",
            "CPU ms/doc",
            "tokens/doc",
            "$ / 1M docs",
            "cost from",
            "index MiB",
        ],
        [
            [
                r.name,
                *(f"{r.metrics.get(m, float('nan')):.4f}" for m in metric_names),
                f"{r.throughput:.1f}",
                f"{r.cpu_seconds_per_doc * 1000:.2f}",
                f"{r.tokens_per_doc:.1f}",
                f"{r.cost_per_million:.4f}",
                r.cost_basis,
                f"{r.memory_bytes / 2**20:.2f}",
            ]
            for r in comparison.rows
        ],
    )
    setups = _table(
        ["setup", "config", "embedding space (model, fingerprint, pooling, ...)"],
        [
            [r.name, json.dumps(r.config, sort_keys=True), json.dumps(r.space, sort_keys=True)]
            for r in comparison.rows
        ],
    )
    env = comparison.environment
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    problems = comparison.validation.get("counts", {})
    validation = (
        "no problems found"
        if not problems
        else "; ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(problems.items()))
    )
    images = "".join(
        f'<figure><img src="{name}" alt="{html.escape(title)}"><figcaption>{html.escape(title)}'
        "</figcaption></figure>"
        for name, title in PLOTS.items()
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
code, td {{ word-break: break-word; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Quality metric: <b>{html.escape(comparison.quality_metric)}</b> ({html.escape(comparison.kind)}).
Throughput and CPU cost are measured on a seeded sample of {env.get("throughput_sample")} texts
encoded without the cache (one timed pass after a short warm-up, so on a busy machine
differences of a few tens of percent are noise); cost is CPU seconds &times; $/CPU-hour
for local setups and tokens &times; $/million tokens for hosted ones.</p>
<h2>Results</h2>
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
    _plots(comparison, folder)
    write_bytes(folder / "results.json", json.dumps(comparison.to_dict(), indent=2).encode())
    index = folder / "index.html"
    write_bytes(index, render_html(comparison).encode("utf-8"))
    return index
