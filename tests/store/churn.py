"""A process that writes to a collection forever (run by the kill-loop and concurrency
tests, then killed): batched indexing, upserts, deletes and compactions of a corpus
whose every text names its id and version, so any state can be checked afterwards.

Usage: python churn.py COLLECTION SEED [ROUNDS]; prints "ready" once the collection is
open and "done" after ROUNDS rounds (forever if not given).
"""

from __future__ import annotations

import random
import sys

from embedstack.store.collection import Collection
from embedstack.store.ingest import upsert_in_batches

N_DOCS = 120
TOPICS = ["loans", "tea", "keys", "backups", "cats", "rivers", "songs", "trains"]


def text(doc: int, version: int) -> str:
    """Unique tokens per (doc, version) let BM25 prove which version it indexed."""
    topic = TOPICS[(doc + version) % len(TOPICS)]
    return f"doc{doc} ver{doc}x{version} about {topic} and {TOPICS[doc % len(TOPICS)]}"


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rng = random.Random(seed)
    col = Collection.open(path, "hash:64")
    print("ready", flush=True)
    done = 0
    while rounds is None or done < rounds:
        version = rng.randrange(1, 1000)
        op = rng.choice(["index", "upsert", "delete", "compact"])
        if op == "index":
            ids = [str(d) for d in range(N_DOCS)]
            texts = [text(d, version) for d in range(N_DOCS)]
            upsert_in_batches(col, texts, ids, [{"v": version}] * N_DOCS, max_batch=16)
        elif op == "upsert":
            docs = rng.sample(range(N_DOCS), 10)
            col.upsert([text(d, version) for d in docs], [str(d) for d in docs])
        elif op == "delete":
            col.delete([str(d) for d in rng.sample(range(N_DOCS), 8)])
        else:
            col.compact()
        done += 1
    print("done", flush=True)


if __name__ == "__main__":
    main()
