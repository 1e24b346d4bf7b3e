"""Peak memory while streaming a large corpus into a collection with `embed_corpus`.

    PYTHONPATH=src python benchmarks/ingest.py [--docs 100000] [--model glove-50d]
                                                [--chunk-size 2048] [--bm25] [--workers 1]

Documents are SciFact abstract sentences (cycled, each with a unique id and metadata),
generated lazily so the input itself takes no memory. Peak RSS is the process's
`ru_maxrss` (children included when --workers > 1), reported next to the RSS right
after the encoder was loaded, so the growth caused by the corpus is visible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DATA = next(
    (
        p
        for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data")
        if p.is_dir()
    ),
    ROOT / ".." / "shared" / "data",
)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def documents(n: int) -> Iterator[dict[str, object]]:
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        pool = [
            s
            for line in handle
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"])
            if len(s.split()) >= 5
        ]
    for i in range(n):
        yield {"id": f"doc-{i}", "text": pool[i % len(pool)], "source": "scifact", "n": i}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--model", default="glove-50d")
    parser.add_argument("--precision", default=None)
    parser.add_argument("--chunk-size", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bm25", action="store_true", help="also build the BM25 index")
    args = parser.parse_args()

    from embedstack.registry import load_encoder
    from embedstack.store.collection import Collection
    from embedstack.store.ingest import embed_corpus

    options = {"precision": args.precision} if args.precision else {}
    encoder = load_encoder(args.model, **options)
    encoder.encode(["warm up"])
    loaded = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        collection = Collection.create(
            Path(tmp) / "bench.es", encoder, indexes=("bm25",) if args.bm25 else ()
        )
        start = time.perf_counter()
        report = embed_corpus(
            documents(args.docs),
            collection,
            chunk_size=args.chunk_size,
            workers=args.workers,
            encoder_options=options,
            total=args.docs,
        )
        seconds = time.perf_counter() - start
        stored = len(collection)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 2**20
    table = Table(title=f"embed_corpus: {args.docs:,} documents (shared machine)")
    for column in (
        "model",
        "docs stored",
        "seconds",
        "docs/s",
        "RSS after load",
        "peak RSS",
        "on disk",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_row(
        f"{args.model}{' ' + args.precision if args.precision else ''}"
        f"{' +bm25' if args.bm25 else ''}, chunk {args.chunk_size}, workers {args.workers}",
        f"{stored:,}",
        f"{seconds:.1f}",
        f"{report.embedded / seconds:,.0f}",
        f"{loaded:.0f} MB",
        f"{peak_rss_mb():.0f} MB",
        f"{size:.0f} MB",
    )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
