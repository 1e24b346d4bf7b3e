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

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from embedstack.errors import InputError

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
_EXAMPLES = 5


@dataclass
class ValidationReport:
    """Counts of problems found while loading, with a few example ids for each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, problem: str, example: str) -> None:
        """Count one problem and keep a few examples of it."""
        self.counts[problem] = self.counts.get(problem, 0) + 1
        shown = self.examples.setdefault(problem, [])
        if len(shown) < _EXAMPLES:
            shown.append(example)

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.counts

    def lines(self) -> list[str]:
        """One human-readable line per problem, e.g. `3 duplicate doc ids (e.g. 7, 9)`."""
        return [
            f"{n} {problem.replace('_', ' ')} (e.g. {', '.join(self.examples[problem])})"
            for problem, n in sorted(self.counts.items())
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the `validation` key of results)."""
        return {"counts": dict(self.counts), "examples": dict(self.examples)}


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


@dataclass
class StsDataset:
    """Sentence pairs with gold similarity scores."""

    name: str
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    report: ValidationReport


# ---------------------------------------------------------------- file helpers


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _find(directory: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    return next(
        (directory / (stem + s) for s in suffixes if (directory / (stem + s)).exists()), None
    )


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object); a malformed line raises naming the file and line."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one "
                    "JSON object. Fix or remove that line."
                ) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{number}: expected a JSON object, got {obj!r:.60}")
            yield number, obj


def _field(obj: dict[str, Any], key: str, path: Path, line: int, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        raise InputError(f"{path}:{line}: missing field {key!r}")
    return str(value)


def _read_table(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV/TSV (header required) or JSONL file as string dicts."""
    if path.suffix in (".jsonl", ".gz"):
        for number, obj in read_jsonl(path):
            yield number, {k: "" if v is None else str(v) for k, v in obj.items()}
        return
    tsv = path.suffix in (".tsv", ".txt")
    with _open_text(path) as handle:
        # The STS data ships unquoted: quote characters are part of the sentences.
        reader = (
            csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tsv
            else csv.reader(handle)
        )
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path} is empty; it needs a header row and data rows")
        header = [h.strip().lower() for h in header]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}:{reader.line_num}: {len(row)} columns, header has {len(header)} "
                    f"({', '.join(header)})"
                )
            yield reader.line_num, dict(zip(header, row, strict=True))


# ---------------------------------------------------------------- BEIR


def load_beir(directory: str | Path, split: str = "test") -> RetrievalDataset:
    """Load one split of a BEIR-layout folder, validating ids and judgements."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist; {BEIR_LAYOUT}")
    corpus_path = _find(root, "corpus", (".jsonl", ".jsonl.gz"))
    queries_path = _find(root, "queries", (".jsonl", ".jsonl.gz"))
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
            id=_field(obj, "_id", corpus_path, line),
            text=_field(obj, "text", corpus_path, line, ""),
            title=_field(obj, "title", corpus_path, line, ""),
        )
        _add_unique(corpus, doc.id, doc, "duplicate_doc_ids", report)
    all_queries: dict[str, str] = {}
    for line, obj in read_jsonl(queries_path):
        qid = _field(obj, "_id", queries_path, line)
        _add_unique(
            all_queries, qid, _field(obj, "text", queries_path, line), "duplicate_query_ids", report
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
    questions_path = _find(target, "questions", (".csv", ".jsonl")) if target.is_dir() else target
    if questions_path is None or not questions_path.exists():
        raise InputError(f"{target}: no questions file found; {FAQ_LAYOUT}")
    answers_path = _find(folder, "answers", (".csv", ".jsonl"))
    report = ValidationReport()
    corpus: dict[str, Document] = {}
    if answers_path is not None:
        for line, row in _read_table(answers_path):
            if "id" not in row or "text" not in row:
                raise InputError(f"{answers_path}:{line}: needs 'id' and 'text'; {FAQ_LAYOUT}")
            doc = Document(row["id"].strip(), row["text"], row.get("title", ""))
            _add_unique(corpus, doc.id, doc, "duplicate_doc_ids", report)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    splits: set[str] = set()
    for line, row in _read_table(questions_path):
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
        folder.name,
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
    if target.is_dir() and _find(target, "corpus", (".jsonl", ".jsonl.gz")) is not None:
        return load_beir(target, split)
    if target.is_file() or _find(target, "questions", (".csv", ".jsonl")) is not None:
        return load_faq(target, split)
    return load_beir(target, split)  # raises, naming the missing BEIR files


# ---------------------------------------------------------------- STS


def load_sts(path: str | Path) -> StsDataset:
    """STS pairs from a TSV (unquoted), CSV or JSONL file with score/sentence1/sentence2."""
    source = Path(path)
    if not source.is_file():
        raise InputError(
            f"STS file {source} not found; expected TSV/CSV/JSONL with columns "
            "score, sentence1, sentence2"
        )
    report = ValidationReport()
    first: list[str] = []
    second: list[str] = []
    gold: list[float] = []
    for line, row in _read_table(source):
        missing = {"score", "sentence1", "sentence2"} - set(row)
        if missing:
            raise InputError(f"{source}:{line}: missing columns {sorted(missing)}")
        try:
            score = float(row["score"])
        except ValueError:
            raise InputError(f"{source}:{line}: score {row['score']!r} is not a number") from None
        if not np.isfinite(score):
            raise InputError(f"{source}:{line}: score {row['score']!r} is not finite")
        if not row["sentence1"].strip() or not row["sentence2"].strip():
            report.add("empty_sentences", str(line))
        first.append(row["sentence1"])
        second.append(row["sentence2"])
        gold.append(score)
    if len(gold) < 2:
        raise InputError(f"{source}: needs at least 2 scored pairs to compute a correlation")
    return StsDataset(source.stem, first, second, np.asarray(gold, dtype=np.float64), report)
