from __future__ import annotations

import pytest
from apps_helpers import EXAMPLES

from embedstack.apps.rag import (
    evaluate_chunk_sizes,
    expand_paths,
    index_files,
    parent_ranges,
    retrieve,
)
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import InputError
from embedstack.store.collection import Collection
from embedstack.text.chunking import Chunker
from embedstack.text.tokenize import WordTokenizer


def test_parent_is_smallest_enclosing_section_that_fits():
    text = (
        "# Guide\nIntro words here.\n"
        "## Loans\nLoans last three weeks.\n### Renewals\nRenew twice online.\n"
        "## Fees\n" + " ".join(f"w{i}." for i in range(30))
    )
    chunks = Chunker(WordTokenizer(), max_tokens=10).chunk(text, "t")
    by_heading = {c.headings[-1]: i for i, c in enumerate(chunks)}
    ranges = parent_ranges(chunks, parent_max_tokens=30)
    renewals = ranges[by_heading["Renewals"]]  # its own section is one chunk: climb to Loans
    assert text[renewals[0] : renewals[1]] == (
        "## Loans\nLoans last three weeks.\n### Renewals\nRenew twice online."
    )
    fees = [i for i, c in enumerate(chunks) if c.headings[-1] == "Fees"]
    middle = fees[len(fees) // 2]  # Fees is too long: neighbours instead
    assert ranges[middle] == (chunks[middle - 1].start, chunks[middle + 1].end)
    everything = parent_ranges(chunks, parent_max_tokens=1000)
    assert everything[by_heading["Renewals"]] == (
        chunks[by_heading["Loans"]].start,
        chunks[by_heading["Renewals"]].end,
    )
    assert everything[0] == (0, chunks[-1].end)  # Guide's own section is one chunk


def test_reindex_updates_and_removes_stale_chunks(tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# One\nalpha beta gamma.\n\n# Two\ndelta epsilon.\n")
    encoder = HashEncoder(64)
    collection, chunks = index_files([doc], tmp_path / "c", encoder, max_tokens=8)
    assert len(collection) == len(chunks) == 2
    doc.write_text("# One\nalpha beta gamma.\n")
    collection, chunks = index_files([doc], tmp_path / "c", encoder, max_tokens=8)
    assert len(Collection.open(tmp_path / "c", encoder)) == 1
    hits = retrieve(collection, "alpha", k=5)
    assert [h["id"] for h in hits] == [f"{doc}#0"]


def test_retrieve_refuses_collections_without_chunks(tmp_path):
    encoder = HashEncoder(64)
    plain = Collection.create(tmp_path / "plain", encoder, indexes=())
    plain.add(["some text"], ids=["x"])
    with pytest.raises(InputError, match="chunk"):
        retrieve(plain, "text")
    with pytest.raises(InputError, match="does not exist"):
        expand_paths([tmp_path / "missing.md"])


def test_chunk_size_evaluation_reports_each_size():
    files = expand_paths([EXAMPLES / "docs"])
    docs = {p.stem: p.read_text() for p in files}
    queries = {
        "q1": "renew loans twice",
        "q2": "story time for toddlers",
        "q3": "guest wifi password",
    }
    qrels = {"q1": {"borrowing"}, "q2": {"events"}, "q3": {"services"}}
    rows = evaluate_chunk_sizes(docs, queries, qrels, HashEncoder(256), sizes=(16, 64), k=2)
    assert [r["max_tokens"] for r in rows] == [16, 64]
    assert rows[0]["chunks"] > rows[1]["chunks"]
    assert all(0 <= r["recall@2"] <= 1 and 0 <= r["ndcg@10"] <= 1 for r in rows)
    assert rows[0]["recall@2"] == 1.0  # small chunks isolate the matching sentence


def test_expand_paths_lists_each_file_once(tmp_path):
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    (tmp_path / "c.bin").write_text("z")
    assert expand_paths([tmp_path, tmp_path / "a.md"]) == [tmp_path / "a.md", tmp_path / "b.txt"]
