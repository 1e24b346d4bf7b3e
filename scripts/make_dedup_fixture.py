"""Build tests/data/dedup_captions.jsonl: a labelled duplicate-detection set from real text.

Source: the `images` genre of the STS Benchmark test split (PASCAL VOC-2008 image
captions, CC BY-SA; STS scores CC BY-SA 4.0), read from ../shared/data/stsb. Pairs with a
gold score >= 4.4 are kept as paraphrase duplicates, pairs scored 2.4-3.6 as hard
negatives (related but not duplicates), low-scored sentences as singletons; then exact
copies (case/whitespace changes) and near copies (a typo or a dropped word) of random
singletons are injected. Groups are split in halves: `calib` to choose thresholds,
`test` to measure precision and recall. Deterministic (seed 0).

    python scripts/make_dedup_fixture.py [PATH/TO/shared/data/stsb]
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STSB = ROOT / ".." / "shared" / "data" / "stsb"
OUT = ROOT / "tests" / "data" / "dedup_captions.jsonl"


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    i = rng.choice(letters[2:-2])
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # swap two letters


def _drop_word(text: str, rng: random.Random) -> str:
    words = text.split()
    del words[rng.randrange(1, len(words) - 1)]
    return " ".join(words)


def main() -> None:
    stsb = Path(sys.argv[1]) if len(sys.argv) > 1 else STSB
    rng = random.Random(0)
    with (stsb / "sts-test.tsv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    with (stsb / "sts-test.meta.tsv").open(encoding="utf-8") as f:
        meta = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    images = [
        (float(r[0]), r[1], r[2]) for r, m in zip(rows, meta, strict=True) if m[2] == "images"
    ]
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    group = 0

    def add(text: str, kind: str, grp: int) -> None:
        records.append({"text": text, "group": f"g{grp:03d}", "kind": kind})

    para = [(a, b) for s, a, b in images if s >= 4.4]
    hard = [(a, b) for s, a, b in images if 2.4 <= s <= 3.6]
    low = [a for s, a, _ in images if s < 2.0]
    for a, b in para[:30]:
        if a.lower() in seen or b.lower() in seen:
            continue
        seen.update((a.lower(), b.lower()))
        add(a, "original", group)
        add(b, "paraphrase", group)
        group += 1
    for a, b in hard[:30]:
        for text in (a, b):
            if text.lower() not in seen:
                seen.add(text.lower())
                add(text, "hard-negative", group)
                group += 1
    singles = []
    for text in low:
        if text.lower() not in seen and len(text.split()) >= 6:
            seen.add(text.lower())
            singles.append(text)
    for i, text in enumerate(singles[:60]):
        add(text, "original", group)
        if i < 15:
            add("  " + text.upper().replace(" ", "  ") + " ", "exact", group)
        elif i < 23:
            add(_typo(text, rng), "near", group)
        elif i < 30:
            add(_drop_word(text, rng), "near", group)
        group += 1
    groups = sorted({r["group"] for r in records})
    rng.shuffle(groups)
    calib = set(groups[: len(groups) // 2])
    rng.shuffle(records)
    with OUT.open("w", encoding="utf-8") as f:
        for i, rec in enumerate(records):
            row = {"id": f"s{i:03d}", **rec, "split": "calib" if rec["group"] in calib else "test"}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records in {len(groups)} groups to {OUT}")


if __name__ == "__main__":
    main()
