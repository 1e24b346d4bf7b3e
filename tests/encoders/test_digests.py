"""Weights digests are computed once per version of a file, also across processes."""

import hashlib

import pytest

from embedstack.encoders import digests


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(digests, "_HASHES", {})
    return tmp_path / "home"


def test_digest_is_sha256_and_is_remembered_on_disk(tmp_path, home, monkeypatch):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert digests.file_sha256(weights) == expected
    assert [p.read_text() for p in (home / "digests").iterdir()] == [expected]

    monkeypatch.setattr(digests, "_HASHES", {})  # a new process: memory is empty

    def no_hashing(path):
        raise AssertionError("the stored digest should have been used")

    monkeypatch.setattr(digests, "_hash", no_hashing)
    assert digests.file_sha256(weights) == expected


def test_a_changed_file_is_hashed_again(tmp_path, home, monkeypatch):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"one")
    first = digests.file_sha256(weights)
    weights.write_bytes(b"other content")
    monkeypatch.setattr(digests, "_HASHES", {})
    assert digests.file_sha256(weights) == hashlib.sha256(b"other content").hexdigest() != first


def test_a_damaged_record_is_ignored_and_rewritten(tmp_path, home):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"abc")
    digests.file_sha256(weights)
    (record,) = (home / "digests").iterdir()
    record.write_text("not a digest")
    digests._HASHES.clear()
    assert digests.file_sha256(weights) == hashlib.sha256(b"abc").hexdigest()
    assert record.read_text() == hashlib.sha256(b"abc").hexdigest()


def test_an_unwritable_cache_still_gives_the_digest(tmp_path, monkeypatch):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("EMBEDSTACK_HOME", str(blocker))
    monkeypatch.setattr(digests, "_HASHES", {})
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"xyz")
    assert digests.file_sha256(weights) == hashlib.sha256(b"xyz").hexdigest()
