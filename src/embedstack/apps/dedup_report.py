"""Dedup reports (JSON, CSV, self-contained HTML with side-by-side diffs) and the
deduplicated output, all written atomically."""

from __future__ import annotations

import csv
import difflib
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from embedstack.apps._files import atomic_write
from embedstack.apps.dedup import DupCluster


def report_dict(clusters: Sequence[DupCluster], files: int) -> dict[str, Any]:
    """The JSON report: file count and every cluster."""
    return {"clusters": [c.to_dict() for c in clusters], "files": files}


def to_csv(clusters: Sequence[DupCluster]) -> str:
    """One CSV row per duplicate: cluster, keeper, duplicate, kind, score."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["cluster", "keep", "duplicate", "kind", "score"])
    for n, c in enumerate(clusters):
        for dup in c.duplicates:
            writer.writerow([n, c.keep, dup, c.kind.value, f"{c.score:.4f}"])
    return out.getvalue()


def _diff_html(a: str, b: str) -> tuple[str, str]:
    """Word-level diff: removed words marked in the keeper, added words in the copy."""
    wa, wb = a.split(), b.split()
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        ta, tb = html.escape(" ".join(wa[i1:i2])), html.escape(" ".join(wb[j1:j2]))
        if op == "equal":
            left.append(ta)
            right.append(tb)
            continue
        if ta:
            left.append(f"<del>{ta}</del>")
        if tb:
            right.append(f"<ins>{tb}</ins>")
    return " ".join(left), " ".join(right)


def _more(text: str, limit: int) -> str:
    """Say what the page leaves out instead of cutting silently."""
    rest = len(text) - limit
    return f" <em>[… {rest} more characters]</em>" if rest > 0 else ""


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border:1px solid #ccc;
padding:.5em;vertical-align:top;width:50%;white-space:pre-wrap}del{background:#fdd}
ins{background:#dfd;text-decoration:none}h2{font-size:1.1em}.meta{color:#666}"""


def to_html(clusters: Sequence[DupCluster], texts: Mapping[str, str], limit: int = 2000) -> str:
    """One table per duplicate: keeper on the left, duplicate on the right, word diff."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>embedstack dedup report</title>",
        f"<style>{_STYLE}</style><h1>Duplicate report</h1>",
        f"<p class='meta'>{len(clusters)} clusters, "
        f"{sum(len(c.duplicates) for c in clusters)} duplicates</p>",
    ]
    for n, c in enumerate(clusters):
        parts.append(
            f"<h2>Cluster {n}: {c.kind.value} (score {c.score:.3f})</h2>"
            f"<p class='meta'>keep <code>{html.escape(c.keep)}</code></p>"
        )
        for dup in c.duplicates:
            left, right = _diff_html(texts[c.keep][:limit], texts[dup][:limit])
            left += _more(texts[c.keep], limit)
            right += _more(texts[dup], limit)
            parts.append(
                f"<table><tr><th>{html.escape(c.keep)} (kept)</th><th>{html.escape(dup)}</th>"
                f"</tr><tr><td>{left}</td><td>{right}</td></tr></table>"
            )
    return "\n".join(parts)


def write_report(
    out: Path, clusters: Sequence[DupCluster], texts: Mapping[str, str], files: int
) -> list[Path]:
    """`report.json`, `report.csv` and `report.html` in `out`; returns the paths."""
    paths = [out / "report.json", out / "report.csv", out / "report.html"]
    atomic_write(paths[0], json.dumps(report_dict(clusters, files), indent=2) + "\n")
    atomic_write(paths[1], to_csv(clusters))
    atomic_write(paths[2], to_html(clusters, texts))
    return paths


def write_unique(
    out: Path, ids: Sequence[str], texts: Mapping[str, str], clusters: Sequence[DupCluster]
) -> Path:
    """The deduplicated items (every non-duplicate, in input order) as JSON Lines."""
    dropped = {d for c in clusters for d in c.duplicates}
    lines = [
        json.dumps({"id": i, "text": texts[i]}, ensure_ascii=False) for i in ids if i not in dropped
    ]
    path = out / "unique.jsonl"
    atomic_write(path, "".join(line + "\n" for line in lines))
    return path
