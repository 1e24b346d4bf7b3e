"""Duplicate detection quality on the labelled STS-B captions set, stage by stage.

Thresholds are calibrated on the `calib` half; precision and recall (pairwise, over
gold duplicate groups) and per-kind recall are measured on the `test` half.

    python benchmarks/dedup_quality.py [--model minilm]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from embedstack.apps.dedup import Deduplicator
from embedstack.apps.dedup_calibrate import calibrate_dedup, pairwise_pr
from embedstack.registry import load_encoder

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "dedup_captions.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="minilm")
    args = parser.parse_args()
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    calib = [r for r in rows if r["split"] == "calib"]
    test = [r for r in rows if r["split"] == "test"]
    encoder = load_encoder(args.model)
    edits = [r for r in calib if r["kind"] != "paraphrase"]
    near = calibrate_dedup([r["text"] for r in edits], [r["group"] for r in edits], stage="near")
    semantic = calibrate_dedup(
        [r["text"] for r in calib], [r["group"] for r in calib], encoder=encoder
    )
    print(
        f"calibrated on {len(calib)} items: near {near.threshold:.3f}, "
        f"semantic {semantic.threshold:.3f} ({args.model}); tested on {len(test)} items"
    )
    print("| stages | precision | recall | exact found | near found | paraphrase found |")
    print("|---|---:|---:|---:|---:|---:|")
    groups = {r["id"]: r["group"] for r in test}
    for stages in (("exact",), ("exact", "near"), ("exact", "near", "semantic")):
        finder = Deduplicator(
            encoder,
            near_threshold=near.threshold,
            semantic_threshold=semantic.threshold,
            stages=stages,
        )
        clusters = finder.find([r["id"] for r in test], [r["text"] for r in test])
        precision, recall = pairwise_pr(clusters, groups)
        found = {i for c in clusters for i in [c.keep, *c.duplicates]}
        per_kind = []
        for kind in ("exact", "near", "paraphrase"):
            items = [r for r in test if r["kind"] == kind]
            per_kind.append(f"{sum(r['id'] in found for r in items)}/{len(items)}")
        print(
            f"| {'+'.join(stages)} | {precision:.3f} | {recall:.3f} | "
            + " | ".join(per_kind)
            + " |"
        )


if __name__ == "__main__":
    main()
