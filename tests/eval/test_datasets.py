from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from embedstack.errors import InputError
from embedstack.eval.datasets import (
    load_beir,
    load_faq,
    load_retrieval_dataset,
    load_sts,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "eval"


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    target = tmp_path / "beir"
    shutil.copytree(DATA / "beir_tiny", target)
    return target


def test_beir_loads_split_and_joins_title() -> None:
    ds = load_beir(DATA / "beir_tiny", "test")
    assert len(ds.corpus) == 12
    assert set(ds.queries) == {"q1", "q2", "q3", "q4", "q5", "q6"}
    assert ds.qrels["q1"] == {"d1": 2, "d9": 1}
    assert ds.doc_texts()["d1"].startswith("Rotating API keys Rotate the API")
    assert ds.doc_texts()["d11"].startswith("Dark mode")  # no leading space without a title
    assert ds.report.ok
    assert set(load_beir(DATA / "beir_tiny", "train").queries) == {"q7"}


def test_beir_gzipped_corpus(beir: Path) -> None:
    raw = (beir / "corpus.jsonl").read_bytes()
    (beir / "corpus.jsonl").unlink()
    (beir / "corpus.jsonl.gz").write_bytes(gzip.compress(raw))
    assert len(load_beir(beir).corpus) == 12


def test_validation_counts_problems_without_dropping(beir: Path) -> None:
    with (beir / "corpus.jsonl").open("a") as f:
        f.write('{"_id": "d1", "title": "dup", "text": "duplicate"}\n')
        f.write('{"_id": "d13", "title": "", "text": "  "}\n')
    with (beir / "qrels" / "test.tsv").open("a") as f:
        f.write("q2\tmissing-doc\t1\nq99\td1\t1\n")
    ds = load_beir(beir)
    counts = ds.report.counts
    assert counts == {
        "duplicate_doc_ids": 1,
        "empty_docs": 1,
        "qrels_unknown_docs": 1,
        "qrels_unknown_queries": 1,
    }
    assert ds.corpus["d1"].title == "Rotating API keys"  # first occurrence kept
    assert "missing-doc" in ds.qrels["q2"]  # kept: it lowers recall honestly
    assert "q99" not in ds.queries
    assert any(line == "1 duplicate doc ids (e.g. d1)" for line in ds.report.lines())


def test_malformed_jsonl_names_file_and_line(beir: Path) -> None:
    lines = (beir / "queries.jsonl").read_text().splitlines()
    lines[2] = '{"_id": "q3", "text": '
    (beir / "queries.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"queries\.jsonl:3: not valid JSON"):
        load_beir(beir)


def test_missing_files_name_the_file_and_layout(beir: Path) -> None:
    with pytest.raises(
        InputError, match=r"missing qrels/dev\.tsv \(available splits: \['test', 'train'\]\)"
    ):
        load_beir(beir, "dev")
    (beir / "queries.jsonl").unlink()
    with pytest.raises(InputError, match=r"missing queries\.jsonl; expected BEIR layout"):
        load_beir(beir)


def test_empty_split_is_an_error(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(InputError, match="no queries to evaluate"):
        load_beir(beir)


def test_bad_qrels_score_names_line(beir: Path) -> None:
    with (beir / "qrels" / "test.tsv").open("a") as f:
        f.write("q1\td2\thigh\n")
    with pytest.raises(InputError, match=r"test\.tsv:11: score 'high'"):
        load_beir(beir)


def test_faq_folder_with_answers_file() -> None:
    ds = load_retrieval_dataset(DATA / "faq_tiny", "test")
    assert set(ds.queries) == {"f1", "f2", "f3", "f5"}
    assert ds.qrels["f5"] == {"a4": 1, "a1": 1}
    assert ds.doc_texts()["a1"].startswith("Keys Rotate")
    assert set(load_faq(DATA / "faq_tiny" / "questions.csv", "train").queries) == {"f4"}
    with pytest.raises(
        InputError, match=r"no rows in split 'dev' \(splits present: \['test', 'train'\]\)"
    ):
        load_faq(DATA / "faq_tiny", "dev")


def test_faq_single_file_with_answer_texts(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(
        '{"question": "refund?", "answer_id": "r", "answer": "30 days"}\n'
        '{"question": "money back?", "answer_id": "r", "answer": "thirty days"}\n'
        '{"question": "keys?", "answer_id": "k", "answer": "rotate them"}\n'
    )
    ds = load_retrieval_dataset(path)
    assert len(ds.queries) == 3 and set(ds.corpus) == {"r", "k"}
    assert ds.report.counts == {"conflicting_answer_texts": 1}


def test_sts_tsv_is_read_unquoted() -> None:
    ds = load_sts(DATA / "sts_tiny.tsv")
    assert len(ds.scores) == 6
    assert ds.sentences1[3] == 'Two dogs run in a "park".'
    assert ds.scores[0] == 5.0


def test_sts_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    path.write_text("score\tsentence1\tsentence2\n1.0\ta\tb\nx\tc\td\n")
    with pytest.raises(InputError, match=r"s\.tsv:3: score 'x' is not a number"):
        load_sts(path)
    path.write_text("score\tsentence1\tsentence2\n1.0\ta\n")
    with pytest.raises(InputError, match=r"s\.tsv:2: 2 columns, header has 3"):
        load_sts(path)
    with pytest.raises(InputError, match="not found"):
        load_sts(tmp_path / "nope.tsv")
