"""Evaluation data on disk -> validated in-memory datasets.

Three layouts: BEIR retrieval folders (`corpus.jsonl[.gz]`, `queries.jsonl`,
`qrels/<split>.tsv`), FAQ-style "questions with known answer ids" (CSV or JSONL), and
STS sentence pairs (TSV/CSV with `score`, `sentence1`, `sentence2`). Problems that still
leave a usable dataset (duplicate ids, qrels pointing at unknown documents, empty texts)
are counted in a `ValidationReport` instead of being dropped silently; problems that do
not (a missing file, a malformed line, an empty split) raise `InputError` naming the
file, the line and the expected layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedstack.errors import InputError
from embedstack.eval.readers import (
    ValidationReport,
    find_file,
    read_jsonl,
    read_table,
    require_field,
)
from embedstack.eval.sts import StsDataset, load_sts

BEIR_LAYOUT = (
    "expected BEIR layout: DIR/corpus.jsonl[.gz] ({'_id', 'title', 'text'} per line), "
    "DIR/queries.jsonl[.gz] ({'_id', 'text'} per line), DIR/qrels/<split>.tsv "
    "(header 'query-id<TAB>corpus-id<TAB>score')"
)
FAQ_LAYOUT = (
    "expected FAQ layout: a CSV or JSONL file of questions with columns 'question' and "
    "'answer_id' (several ids separated by '|'), plus either an 'answer' column with the "
    "answer text or a DIR/answers.csv|jsonl file with 'id' and 'text' (optional 'title'); "
    "an optional 'split' column selects the split (default: every row is 'test')"
)


@dataclass(frozen=True)
class Document:
    """One corpus entry: title and body."""

    id: str
    text: str
    title: str = ""

    @property
    def full_text(self) -> str:
        """What gets embedded or indexed: `title + " " + text`, as BEIR and MTEB do."""
        return f"{self.title} {self.text}".strip()


@dataclass
class RetrievalDataset:
    """A corpus, the queries of one split, and their graded relevance judgements."""

    name: str
    split: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    report: ValidationReport

    def doc_texts(self) -> dict[str, str]:
        """id -> the text indexed for it (BEIR: title + space + text), in corpus order."""
        return {doc_id: doc.full_text for doc_id, doc in self.corpus.items()}


# ---------------------------------------------------------------- BEIR


def load_beir(directory: str | Path, split: str = "test") -> RetrievalDataset:
    """Load one split of a BEIR-layout folder, validating ids and judgements."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist; {BEIR_LAYOUT}")
    corpus_path = find_file(root, "corpus", (".jsonl", ".jsonl.gz"))
    queries_path = find_file(root, "queries", (".jsonl", ".jsonl.gz"))
    qrels_path = root / "qrels" / f"{split}.tsv"
    for what, found in (("corpus.jsonl", corpus_path), ("queries.jsonl", queries_path)):
        if found is None:
            raise InputError(f"{root}: missing {what}; {BEIR_LAYOUT}")
    if not qrels_path.exists():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise InputError(
            f"{root}: missing qrels/{split}.tsv (available splits: {available or 'none'}); "
            f"{BEIR_LAYOUT}"
        )
    assert corpus_path is not None and queries_path is not None
    report = ValidationReport()
    corpus: dict[str, Document] = {}
    for line, obj in read_jsonl(corpus_path):
        doc = Document(
            id=require_field(obj, "_id", corpus_path, line),
            text=require_field(obj, "text", corpus_path, line, ""),
            title=require_field(obj, "title", corpus_path, line, ""),
        )
        _add_unique(corpus, doc.id, doc, "duplicate_doc_ids", report)
    all_queries: dict[str, str] = {}
    for line, obj in read_jsonl(queries_path):
        qid = require_field(obj, "_id", queries_path, line)
        _add_unique(
            all_queries,
            qid,
            require_field(obj, "text", queries_path, line),
            "duplicate_query_ids",
            report,
        )
    qrels = _read_qrels(qrels_path)
    return _assemble(
        root.name,
        split=split,
        corpus=corpus,
        all_queries=all_queries,
        qrels=qrels,
        report=report,
        source=qrels_path,
    )


def _add_unique(
    target: dict[str, Any], key: str, value: Any, problem: str, report: ValidationReport
) -> None:
    """Keep the first occurrence of an id and count the repeats."""
    if key in target:
        report.add(problem, key)
    else:
        target[key] = value


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            cells = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if number == 1 and cells[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(cells) == 4:  # TREC qrels: qid iteration docid rel
                cells = [cells[0], cells[2], cells[3]]
            if len(cells) != 3:
                raise InputError(f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
            try:
                score = int(float(cells[2]))
            except ValueError:
                raise InputError(f"{path}:{number}: score {cells[2]!r} is not a number") from None
            qrels.setdefault(cells[0].strip(), {})[cells[1].strip()] = score
    return qrels


def _assemble(
    name: str,
    *,
    split: str,
    corpus: dict[str, Document],
    all_queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    report: ValidationReport,
    source: Path,
) -> RetrievalDataset:
    """Cross-check the three parts and keep the queries this split judges."""
    for doc in corpus.values():
        if not doc.full_text:
            report.add("empty_docs", doc.id)
    queries: dict[str, str] = {}
    kept: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        if qid not in all_queries:
            report.add("qrels_unknown_queries", qid)  # nothing to run: cannot be scored
            continue
        for doc_id in judged:
            if doc_id not in corpus:
                # kept: an unretrievable relevant document honestly lowers recall
                report.add("qrels_unknown_docs", f"{qid}->{doc_id}")
        if not any(rel > 0 for rel in judged.values()):
            report.add("queries_without_relevant_docs", qid)
        if not all_queries[qid].strip():
            report.add("empty_queries", qid)
        queries[qid] = all_queries[qid]
        kept[qid] = judged
    if not queries:
        raise InputError(
            f"split {split!r} of {name} has no queries to evaluate ({source} judges no known "
            "query); check the split name and that query ids match queries.jsonl"
        )
    if not corpus:
        raise InputError(f"{name} has an empty corpus; nothing to search")
    return RetrievalDataset(name, split, corpus, queries, kept, report)


# ---------------------------------------------------------------- FAQ


def load_faq(path: str | Path, split: str = "test") -> RetrievalDataset:
    """Questions with known answer ids. `path` is the questions file, or a folder holding
    `questions.csv|jsonl` (and optionally `answers.csv|jsonl`)."""
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    questions_path = (
        find_file(target, "questions", (".csv", ".jsonl")) if target.is_dir() else target
    )
    if questions_path is None or not questions_path.exists():
        raise InputError(f"{target}: no questions file found; {FAQ_LAYOUT}")
    answers_path = find_file(folder, "answers", (".csv", ".jsonl"))
    report = ValidationReport()
    corpus: dict[str, Document] = {}
    if answers_path is not None:
        for line, row in read_table(answers_path):
            if "id" not in row or "text" not in row:
                raise InputError(f"{answers_path}:{line}: needs 'id' and 'text'; {FAQ_LAYOUT}")
            doc = Document(row["id"].strip(), row["text"], row.get("title", ""))
            _add_unique(corpus, doc.id, doc, "duplicate_doc_ids", report)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    splits: set[str] = set()
    for line, row in read_table(questions_path):
        if "question" not in row or "answer_id" not in row:
            raise InputError(
                f"{questions_path}:{line}: needs 'question' and 'answer_id'; {FAQ_LAYOUT}"
            )
        row_split = row.get("split", "test").strip() or "test"
        splits.add(row_split)
        answer_ids = [a.strip() for a in row["answer_id"].split("|") if a.strip()]
        if answers_path is None and "answer" in row:
            for answer_id in answer_ids:
                known = corpus.get(answer_id)
                if known is None:
                    corpus[answer_id] = Document(answer_id, row["answer"])
                elif known.text != row["answer"]:
                    report.add("conflicting_answer_texts", answer_id)
        if row_split != split:
            continue
        qid = row.get("id", "").strip() or f"q{line}"
        if qid in queries:
            report.add("duplicate_query_ids", qid)
            continue
        queries[qid] = row["question"]
        qrels[qid] = dict.fromkeys(answer_ids, 1)
    if not corpus:
        raise InputError(f"{questions_path}: no answers found; {FAQ_LAYOUT}")
    if split not in splits:
        raise InputError(
            f"{questions_path} has no rows in split {split!r} (splits present: {sorted(splits)})"
        )
    return _assemble(
        target.name if target.is_file() else folder.name,  # a file: named after it
        split=split,
        corpus=corpus,
        all_queries=queries,
        qrels=qrels,
        report=report,
        source=questions_path,
    )


def load_retrieval_dataset(path: str | Path, split: str = "test") -> RetrievalDataset:
    """BEIR folder if it has a corpus file, else FAQ questions (file or folder)."""
    target = Path(path)
    if not target.exists():
        raise InputError(f"{target} does not exist; {BEIR_LAYOUT}; or {FAQ_LAYOUT}")
    if target.is_dir() and find_file(target, "corpus", (".jsonl", ".jsonl.gz")) is not None:
        return load_beir(target, split)
    if target.is_file() or find_file(target, "questions", (".csv", ".jsonl")) is not None:
        return load_faq(target, split)
    return load_beir(target, split)  # raises, naming the missing BEIR files


__all__ = [
    "BEIR_LAYOUT",
    "FAQ_LAYOUT",
    "Document",
    "RetrievalDataset",
    "StsDataset",
    "ValidationReport",
    "load_beir",
    "load_faq",
    "load_retrieval_dataset",
    "load_sts",
    "read_jsonl",
]
