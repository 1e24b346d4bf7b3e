import dataclasses
import json
import threading

import numpy as np
import pytest
from store_helpers import DOCS, fill

from embedstack import registry
from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import CollectionError, EmbedstackError, InputError, SpaceMismatchError
from embedstack.store import commit
from embedstack.store.collection import Collection
from embedstack.store.flat import check_vectors
from embedstack.store.records import RecordStore


def test_round_trip_reopen_rebuilds_encoder_from_manifest(tmp_path, counting_encoder):
    path = tmp_path / "c"
    with Collection.create(path, counting_encoder, indexes=()) as col:
        assert fill(col) == list(DOCS)
        before = col.get(["dog", "cat"])
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_spec"] == "hash:64"
    assert manifest["space"]["dim"] == 64 and manifest["format_version"] == 1
    with Collection.open(path) as col:
        assert len(col) == 5 and col.ids() == list(DOCS)
        assert col.get(["dog"])[0].id == "dog"  # a read maps the segments
        assert isinstance(col._vectors.segments[0].array.base, np.memmap)  # mapped, not read
        after = col.get(["dog", "missing", "cat"])
        assert [r.id for r in after] == ["dog", "cat"]
        assert after[0].text == DOCS["dog"][0] and after[0].metadata == DOCS["dog"][1]
        np.testing.assert_array_equal(after[1].vector, before[1].vector)
        hits = col.search(DOCS["cat"][0], k=2)
        assert hits[0].id == "cat" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[0].stages == {"dense": {"score": hits[0].score, "rank": 1}}
        assert hits[1].stages["dense"]["rank"] == 2
        assert isinstance(col.encoder, HashEncoder)


def test_add_appends_a_segment_and_leaves_old_files_alone(tmp_path, counting_encoder, monkeypatch):
    monkeypatch.setattr(commit, "SMALL_SEGMENT_ROWS", 5)
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    first = sorted((tmp_path / "c" / "vectors").iterdir())
    stat = first[0].stat()
    col.add(["one more text"], ids=["extra"])
    files = sorted((tmp_path / "c" / "vectors").iterdir())
    assert len(files) == 2 and first[0] in files
    assert first[0].stat().st_mtime_ns == stat.st_mtime_ns
    assert np.load(files[1] if files[1] != first[0] else files[0]).shape == (1, 64)
    assert col.search("one more text", k=1)[0].id == "extra"


def test_ids_must_be_unique(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    with pytest.raises(InputError, match=r"already in the collection.*upsert"):
        col.add(["again"], ids=["cat"])
    with pytest.raises(InputError, match="appears twice"):
        col.add(["a", "b"], ids=["x", "x"])
    with pytest.raises(InputError, match="2 ids for 1 texts"):
        col.upsert(["a"], ids=["x", "y"])
    with pytest.raises(InputError, match="metadata\\[0\\] is not JSON"):
        col.add(["a"], ids=["y"], metadata=[{"bad": object()}])
    generated = col.add(["no id given"])
    assert len(generated) == 1 and col.get(generated)[0].text == "no id given"
    assert len(col) == 6


def test_upsert_embeds_only_changed_texts(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    assert counting_encoder.embedded == 5
    texts = [DOCS[i][0] for i in DOCS]
    report = col.upsert(texts, ids=list(DOCS))
    assert report.embedded == 0 and len(report.unchanged) == 5
    assert counting_encoder.embedded == 5  # nothing re-embedded

    texts[1] = "A dog sleeps on the sofa"
    meta = [dict(DOCS[i][1]) for i in DOCS]
    meta[2]["animal"] = "goldfish"
    report = col.upsert([*texts, "brand new"], ids=[*DOCS, "new"], metadata=[*meta, {"n": 1}])
    assert report.updated == ["dog"] and report.added == ["new"]
    assert report.metadata_only == ["fish"] and len(report.unchanged) == 3
    assert counting_encoder.embedded == 7
    assert report.to_dict()["embedded"] == 2
    assert col.get(["fish"])[0].metadata["animal"] == "goldfish"
    assert col.get(["dog"])[0].text == "A dog sleeps on the sofa"
    assert col.search("dog sleeps on the sofa", k=1)[0].id == "dog"
    assert len(col) == 6

    # Changed text without metadata keeps the stored metadata.
    col.upsert(["A dog runs"], ids=["dog"])
    assert col.get(["dog"])[0].metadata == DOCS["dog"][1]


def test_delete_tombstones_then_compact(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    col.add(["extra row"], ids=["extra"])
    assert col.delete(["cat", "nope"]) == 1
    assert col.delete([]) == 0
    assert "cat" not in {h.id for h in col.search("cat mat fire", k=10)}
    assert len(col) == 5 and col._vectors.total == 6
    assert col.compact() == 1
    assert col._vectors.total == 5 and len(list((tmp_path / "c" / "vectors").iterdir())) == 1
    assert col.compact() == 0
    assert col.search("extra row", k=1)[0].id == "extra"
    assert col.get(["dog"])[0].text == DOCS["dog"][0]
    reopened = Collection.open(tmp_path / "c", counting_encoder)
    assert reopened.ids() == ["dog", "fish", "code", "tea", "extra"]
    col.delete(reopened.ids())
    assert col.compact() == 5 and len(col) == 0 and col.search("anything") == []


def test_other_space_is_refused_with_a_diff(tmp_path, counting_encoder):
    Collection.create(tmp_path / "c", counting_encoder, indexes=())
    with pytest.raises(
        SpaceMismatchError, match=r"c: .*model: 'hash:64' != 'hash:32'; dim: 64 != 32"
    ):
        Collection.open(tmp_path / "c", HashEncoder(32))
    with pytest.raises(SpaceMismatchError, match="dim: 64 != 16"):
        Collection.open(tmp_path / "c", "hash:16")
    with pytest.raises(SpaceMismatchError):
        Collection.create(tmp_path / "c", HashEncoder(32), exist_ok=True)
    with pytest.raises(CollectionError, match="already a collection"):
        Collection.create(tmp_path / "c", counting_encoder)


def test_create_refuses_a_folder_with_other_files(tmp_path, counting_encoder):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CollectionError, match="not empty"):
        Collection.create(tmp_path, counting_encoder)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_missing_and_corrupt_files_name_the_file_and_the_fix(tmp_path, counting_encoder):
    with pytest.raises(CollectionError, match=r"no collection at .*embedstack index"):
        Collection.open(tmp_path / "nothing")
    path = tmp_path / "c"
    fill(Collection.create(path, counting_encoder, indexes=()))
    manifest = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text(manifest[:40])
    with pytest.raises(CollectionError, match=r"manifest.json is corrupt.*re-create it"):
        Collection.open(path)
    (path / "manifest.json").unlink()
    with pytest.raises(CollectionError, match=r"manifest.json is missing"):
        Collection.open(path)
    (path / "manifest.json").write_text(manifest)
    segment = next((path / "vectors").iterdir())
    segment.write_bytes(segment.read_bytes()[:100])
    with pytest.raises(CollectionError, match=f"{segment.name} is damaged.*--rebuild-vectors"):
        Collection.open(path).search("cat", k=1)
    segment.unlink()
    with pytest.raises(CollectionError, match=f"{segment.name} is missing.*--rebuild-vectors"):
        Collection.open(path).search("cat", k=1)


def test_bad_vectors_are_refused(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    with pytest.raises(InputError, match="64-d"):
        col.search_vector(np.ones(8, dtype=np.float32))
    with pytest.raises(InputError, match="NaN"):
        col.search_vector(np.full(64, np.nan, dtype=np.float32))
    with pytest.raises(InputError, match=r"NaN or infinity.*position 1"):
        check_vectors(np.array([[1.0, 0.0], [np.inf, 0.0]]), 2)
    with pytest.raises(InputError, match="k must be positive"):
        col.search("cat", k=0)


class _NaNEncoder(HashEncoder):
    def encode_batch(self, texts, kind):
        out = super().encode_batch(texts, kind)
        out[0, 0] = np.nan
        return out


def test_nan_from_an_encoder_writes_nothing(tmp_path):
    col = Collection.create(tmp_path / "c", _NaNEncoder(64), indexes=())
    with pytest.raises(EmbedstackError, match="NaN"):
        col.add(["text"], ids=["a"])
    assert len(col) == 0 and not list((tmp_path / "c" / "vectors").glob("*"))


def test_search_vector_and_where_before_top_k(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    query = counting_encoder.encode(["the cat sat on the warm mat"], kind="query")[0]
    assert col.search_vector(query, k=1)[0].id == "cat"
    # The best match overall is filtered out; the best allowed one still comes back.
    hits = col.search("the cat sat on the warm mat", k=1, where={"animal": {"$ne": "cat"}})
    assert len(hits) == 1 and hits[0].id != "cat"
    hits = col.search("cat", k=10, where={"year": {"$gte": 2021}})
    assert {h.id for h in hits} == {"dog", "fish"}
    assert col.search("cat", where={"animal": "bird"}) == []


def test_threads_can_share_one_collection(tmp_path, counting_encoder):
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    errors: list[Exception] = []

    def reader():
        for _ in range(20):
            try:
                assert col.search("the cat", k=3)
                assert len(col.get(["dog"])) == 1
            except Exception as exc:  # collected and asserted on below
                errors.append(exc)

    def writer():
        for i in range(10):
            col.add([f"text number {i}"], ids=[f"t{i}"])

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(col) == 15


def test_a_collection_without_manifest_is_never_wiped(tmp_path, counting_encoder):
    path = tmp_path / "c"
    fill(Collection.create(path, counting_encoder, indexes=()))
    (path / "manifest.json").unlink()
    with pytest.raises(CollectionError, match=r"holds collection data but manifest\.json"):
        Collection.create(path, counting_encoder)
    assert (path / "store.sqlite").exists() and any((path / "vectors").iterdir())
    # What a create that crashed before its manifest leaves behind is reused.
    (tmp_path / "half").mkdir()
    RecordStore(tmp_path / "half" / "store.sqlite", create=True).close()
    assert len(Collection.create(tmp_path / "half", counting_encoder, indexes=())) == 0
    with pytest.raises(InputError, match="metric must be one of"):
        Collection.create(tmp_path / "m", counting_encoder, metric="manhattan")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CollectionError, match="is a file"):
        Collection.create(tmp_path / "file", counting_encoder)
    with pytest.raises(CollectionError, match="unknown index type"):
        Collection.create(tmp_path / "new", counting_encoder, indexes=("nope",))
    assert not (tmp_path / "new").exists()


def test_two_handles_see_each_others_writes(tmp_path, counting_encoder):
    first = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    second = Collection.open(tmp_path / "c", counting_encoder)
    fill(first)
    assert second.search(DOCS["fish"][0], k=1)[0].id == "fish"
    second.delete(["fish"])
    second.compact()
    assert first.ids() == ["cat", "dog", "code", "tea"]
    assert first.search(DOCS["tea"][0], k=1)[0].id == "tea"
    assert first.get(["code"])[0].text == DOCS["code"][0]


def test_small_appends_are_merged_into_one_segment(tmp_path, counting_encoder, monkeypatch):
    monkeypatch.setattr(commit, "SMALL_SEGMENT_ROWS", 4)
    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    texts = [
        f"note number {word}" for word in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    ]
    for i, text in enumerate(texts[:3]):
        col.add([text], ids=[f"n{i}"])
    col.delete(["n1"])  # a tombstone inside the small segment keeps its row
    assert [s.array.shape[0] for s in col._vectors.segments] == [3]
    col.add(texts[3:], ids=["n3", "n4", "n5"])  # 3 + 3 > 4: a segment of its own
    col.add(["one more"], ids=["n6"])  # 3 + 1 <= 4: merged with the last one
    assert [s.array.shape[0] for s in col._vectors.segments] == [3, 4]
    assert len(list((tmp_path / "c" / "vectors").iterdir())) == 2
    reopened = Collection.open(tmp_path / "c", counting_encoder)
    for id_, text in [("n0", texts[0]), ("n2", texts[2]), ("n5", texts[5]), ("n6", "one more")]:
        hit = reopened.search(text, k=1)[0]
        assert hit.id == id_ and hit.score == pytest.approx(1.0, abs=1e-5)
    expected = counting_encoder.encode(texts[2:3])
    np.testing.assert_allclose(reopened.get(["n2"])[0].vector, expected[0], atol=1e-6)


class _PoolingEncoder(HashEncoder):
    """Stands in for a local model loaded with a pooling option."""

    def __init__(self, pooling: str = "mean") -> None:
        super().__init__(32)
        self.space = dataclasses.replace(self.space, model="fake", pooling=pooling)


def test_encoder_is_rebuilt_with_the_options_it_was_built_with(tmp_path, monkeypatch):
    calls = []

    def load_encoder(spec=None, **options):
        calls.append(options)
        if set(options) - {"pooling"}:
            raise InputError("unknown option")
        return _PoolingEncoder(**options)

    monkeypatch.setattr(registry, "load_encoder", load_encoder)
    Collection.create(tmp_path / "c", _PoolingEncoder("cls"), indexes=())
    assert Collection.open(tmp_path / "c").encoder.space.pooling == "cls"
    assert calls == [{}, {"pooling": "cls"}]

    other = _PoolingEncoder("max")
    other.space = dataclasses.replace(other.space, dim=16, pooling="max")
    Collection.create(tmp_path / "d", other, indexes=())
    with pytest.raises(SpaceMismatchError, match="dim: 16 != 32"):
        Collection.open(tmp_path / "d").encoder  # noqa: B018


def test_zero_vectors_are_never_hits_and_a_zero_query_finds_nothing(tmp_path, caplog):
    # The hash encoder gives texts without word characters an all-zero vector, as a
    # static encoder does for out-of-vocabulary-only text.
    col = Collection.create(tmp_path / "c", HashEncoder(32), indexes=())
    col.add(["the cat sat", "!!!", "a dog ran", "", "?"], ids=["cat", "z1", "dog", "z2", "z3"])
    hits = col.search("cat", k=10)
    assert {h.id for h in hits} == {"cat", "dog"}
    assert [h.id for h in col.search("cat", k=1)] == ["cat"]
    assert [h.id for h in col.search("dog", k=5, where={"x": {"$ne": 1}})] == ["dog", "cat"]
    with caplog.at_level("WARNING"):
        assert col.search("???", k=3) == []
    assert "all zeros" in caplog.text


def test_an_empty_query_finds_nothing_and_says_so(tmp_path, counting_encoder):
    from embedstack.text.analysis import EmptyQueryWarning

    col = Collection.create(tmp_path / "c", counting_encoder, indexes=())
    fill(col)
    for query in ("", "   "):
        with pytest.warns(EmptyQueryWarning, match="empty"):
            assert col.search(query, k=3) == []
