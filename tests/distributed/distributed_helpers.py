"""A generated corpus, and a job's output read back as {id: vector} from Parquet or a
collection, for comparisons."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from embedstack.store.collection import Collection

WORDS = (  # noqa: SIM905
    "cell protein gene mouse cancer therapy immune blood brain signal receptor dose "
    "trial patient tumour expression pathway kinase neuron insulin virus vaccine risk"
).split()


def write_corpus(folder: Path, shards: int = 3, rows: int = 80, seed: int = 0) -> int:
    """SciFact-like abstracts in JSONL shards; returns the number of rows."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with open(folder / f"shard-{s}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(rows):
                text = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
                fh.write(json.dumps({"id": f"doc-{s}-{i}", "text": text, "n": i}) + "\n")
    return shards * rows


def parquet_output(folder: Path) -> tuple[list[str], np.ndarray]:
    """(ids in file order, vectors), reading every shard the way a Parquet user would."""
    table = pq.read_table(folder)
    ids = table.column("id").to_pylist()
    flat = table.column("vector").combine_chunks().flatten().to_numpy()
    return ids, np.asarray(flat, np.float32).reshape(len(ids), -1)


def by_id(ids: list[str], vectors: np.ndarray) -> dict[str, np.ndarray]:
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert not repeated, f"ids written twice: {repeated[:5]}"
    return dict(zip(ids, vectors, strict=True))


def collection_output(path: Path) -> dict[str, np.ndarray]:
    with Collection.open(path) as collection:
        ids = collection.ids()
        return {r.id: r.vector for r in collection.get(ids)}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray], atol=1e-6) -> None:
    assert sorted(got) == sorted(want)
    worst = max(float(np.abs(got[i] - want[i]).max()) for i in want)
    assert worst <= atol, f"vectors differ by {worst}"
