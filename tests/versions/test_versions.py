"""Versions and aliases: migrate beside the current version, switch, roll back, drop."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TEXTS, Counting, exact_vectors, make

from embedstack.encoders.hashing import HashEncoder
from embedstack.errors import CollectionError, InputError, SpaceMismatchError
from embedstack.store.collection import Collection
from embedstack.types import Kind


def test_an_existing_collection_is_v1_and_current(tmp_path):
    col = make(tmp_path / "c")
    (info,) = col.versions()
    assert (info.name, info.state, info.rows, info.aliases) == ("v1", "ready", 40, ["current"])
    assert info.space == col.space.to_dict() and not (tmp_path / "c" / "versions.json").exists()
    assert Collection.open(tmp_path / "c", version="v1").version == "v1"
    with pytest.raises(CollectionError, match="no version or alias named 'v2'"):
        Collection.open(tmp_path / "c", version="v2")


def test_migrate_builds_beside_switch_rollback_and_drop(tmp_path):
    folder = tmp_path / "c"
    col = make(folder)
    before = [h.id for h in col.search("topic 3 words", k=5)]
    new = Counting(32)
    result = col.migrate(new, batch_size=7)
    assert (result.version, result.source, result.rows, result.resumed) == ("v2", "v1", 40, False)
    assert sorted(new.embedded) == sorted(TEXTS.values())  # each text embedded once
    # built, not switched: reads still come from v1
    served = Collection.open(folder)
    assert served.version == "v1" and served.space.dim == 64
    assert [h.id for h in served.search("topic 3 words", k=5)] == before

    col.set_alias("current", "v2")
    switched = Collection.open(folder)
    assert switched.version == "v2" and switched.space.dim == 32
    exact_vectors(switched, 32)
    assert {v.name: v.aliases for v in col.versions()} == {"v1": [], "v2": ["current"]}

    with pytest.raises(CollectionError, match="points at: point it at another version first"):
        col.drop_version("v2")
    col.set_alias("current", "v1")  # rollback
    assert Collection.open(folder).space.dim == 64
    col.set_alias("current", "v2")
    col.drop_version("v1")  # the collection folder itself: emptied, kept for the registry
    assert [v.name for v in col.versions()] == ["v2"]
    with pytest.raises(CollectionError, match="dropped"):
        Collection.open(folder, version="v1")
    with pytest.raises(CollectionError, match="was dropped"):
        col.add(["late"], ids=["late"])  # `col` was the v1 object
    reopened = Collection.open(folder)
    reopened.add(["a new text"], ids=["new"])
    assert len(reopened) == 41 and reopened.search("a new text", k=1)[0].id == "new"


def test_an_interrupted_migration_resumes_and_embeds_nothing_twice(tmp_path):
    col = make(tmp_path / "c")
    first = Counting(32, fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        col.migrate(first, batch_size=5)
    building = {v.name: v for v in col.versions()}["v2"]
    assert building.state == "building" and building.rows == 15  # three committed batches
    with pytest.raises(CollectionError, match="still being built"):
        col.set_alias("current", "v2")
    with pytest.raises(CollectionError, match="dim: 32 != 16"):  # another space: refused
        col.migrate(HashEncoder(16))

    second = Counting(32)
    result = col.migrate(second, batch_size=5)
    assert result.resumed and result.embedded == 25 and result.rows == 40
    assert not set(second.embedded) & set(first.embedded)  # nothing embedded twice
    exact_vectors(Collection.open(tmp_path / "c", version="v2"), 32)


def test_writes_during_a_migration_reach_both_versions(tmp_path):
    folder = tmp_path / "c"
    col = make(folder)
    writer = Collection.open(folder)  # another user of the collection, at v1

    class WritesMeanwhile(Counting):
        def encode_batch(self, texts, kind):
            if self.calls == 2:  # while the migration is under way
                writer.add(["fresh text about the cat"], ids=["fresh"], metadata=[{"n": -1}])
                writer.upsert(["changed text of d001"], ids=["d001"])
                writer.delete(["d002"])
                writer.delete(where={"n": 3})
            return super().encode_batch(texts, kind)

    result = col.migrate(WritesMeanwhile(32), batch_size=4)
    v1, v2 = Collection.open(folder, version="v1"), Collection.open(folder, version="v2")
    assert result.rows == len(v1) == len(v2) == 39
    assert sorted(v1.ids()) == sorted(v2.ids())
    assert "fresh" in v2.ids() and "d002" not in v2.ids() and "d003" not in v2.ids()
    assert v2.get(["d001"])[0].text == "changed text of d001"
    assert v2.get(["fresh"])[0].metadata == {"n": -1}
    exact_vectors(v2, 32)
    exact_vectors(v1, 64)

    # after the switch, writes through the current version still reach v1 (rollback)
    col.set_alias("current", "v2")
    current = Collection.open(folder)
    current.upsert(["after the switch"], ids=["late"], metadata=[{"n": 99}])
    current.delete(["fresh"])
    assert v1.get(["late"])[0].metadata == {"n": 99} and "fresh" not in v1.ids()
    exact_vectors(v1, 64)


def test_alias_rollback_brings_a_version_that_missed_writes_in_step(tmp_path):
    folder = tmp_path / "c"
    col = make(folder)
    col.migrate(HashEncoder(32))
    col.set_alias("current", "v2")
    v2 = Collection.open(folder)
    v2._upsert_here(["only in v2"], ["lost"], [{}])  # as if the mirror write had failed
    v2.set_alias("current", "v1")
    v1 = Collection.open(folder)
    assert v1.get(["lost"])[0].text == "only in v2"
    exact_vectors(v1, 64)


def test_mixed_spaces_are_refused_in_every_version(tmp_path):
    folder = tmp_path / "c"
    col = make(folder)
    col.migrate(HashEncoder(32))
    v2 = Collection.open(folder, version="v2")
    with pytest.raises(SpaceMismatchError, match="dim: 32 != 64"):
        Collection.open(folder, HashEncoder(64), version="v2")
    with pytest.raises(SpaceMismatchError, match="model: 'hash:64' != 'hash:32'"):
        vectors = HashEncoder(64).encode(["x"], kind=Kind.DOCUMENT)
        v2.add(ids=["x"], vectors=vectors, space=HashEncoder(64).space)
    with pytest.raises(InputError, match="dimension mismatch"):  # a v1 query vector
        v2.search_vector(HashEncoder(64).encode(["topic"], kind=Kind.QUERY)[0])
    with pytest.raises(CollectionError, match="already serves this embedding space"):
        col.migrate(HashEncoder(64))


def test_names_and_aliases_are_checked(tmp_path):
    col = make(tmp_path / "c", texts={"a": "alpha"})
    col.migrate(HashEncoder(32))
    with pytest.raises(InputError, match="not valid"):
        col.set_alias("../x", "v2")
    with pytest.raises(CollectionError, match="is a version name"):
        col.set_alias("v1", "v2")
    col.set_alias("canary", "v2")
    assert Collection.open(tmp_path / "c", version="canary").space.dim == 32
    with pytest.raises(CollectionError, match="canary points at"):
        col.drop_version("v2")
    registry = json.loads((tmp_path / "c" / "versions.json").read_text())
    assert registry["aliases"] == {"current": "v1", "canary": "v2"}


def test_a_concurrent_reader_sees_old_or_new_never_a_mix(tmp_path):
    import threading

    folder = tmp_path / "c"
    col = make(folder)
    col.migrate(HashEncoder(32))
    query = "topic 2 words"

    def answer(c):
        return [(h.id, round(h.score, 5)) for h in c.search(query, k=5)]

    old = answer(Collection.open(folder, version="v1"))
    new = answer(Collection.open(folder, version="v2"))
    assert old != new
    seen, errors, stop = set(), [], threading.Event()
    long_lived = Collection.open(folder)

    def read() -> None:
        while not stop.is_set():
            try:
                with Collection.open(folder) as fresh:
                    got = answer(fresh)
                seen.add("old" if got == old else "new" if got == new else f"mix {got}")
                assert answer(long_lived) == old  # an open collection keeps its version
            except Exception as exc:  # any error is the failure looked for
                errors.append(repr(exc))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(20):
            col.set_alias("current", "v2" if i % 2 == 0 else "v1")
    finally:
        stop.set()
        thread.join()
    assert not errors and seen <= {"old", "new"}, (errors, seen)


def test_rows_without_text_cannot_be_re_embedded(tmp_path):
    col = make(tmp_path / "c", texts={"a": "alpha"})
    vector = np.ones((1, 64), dtype=np.float32)
    col.add(ids=["v"], vectors=vector, space=col.space)
    with pytest.raises(CollectionError, match="no stored text"):
        col.migrate(HashEncoder(32))
