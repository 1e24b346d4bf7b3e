"""Hosted runs keep every answer that came back: each request is cached as it lands, so a
run that fails on one batch, or is killed halfway, resumes paying only for what is
missing. Broken answers (all-zero vectors) are refused; caches are keyed by endpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fake_apis import KEY, base_url

from embedstack.encoders.cache import SqliteVectorCache
from embedstack.encoders.hosted import provider_class
from embedstack.encoders.hosted.streaming import run_threads
from embedstack.errors import ProviderError

OPENAI = ("openai", "text-embedding-3-small")
TEXTS = [f"passage number {i}" for i in range(6)]


def test_answers_are_handed_back_as_they_land_not_when_all_are_done():
    second_may_finish = threading.Event()

    def first() -> np.ndarray:
        return np.ones((1, 2), np.float32)

    def second() -> np.ndarray:
        # finishes only once the consumer has received the first answer: a runner that
        # waited for every request before yielding would time out here
        assert second_may_finish.wait(10), "the first answer was held back"
        return np.zeros((1, 2), np.float32)

    stream = run_threads([([0], first), ([1], second)], concurrency=2)
    idx, _ = next(stream)
    assert idx == [0]
    second_may_finish.set()
    assert [i for i, _ in stream] == [[1]]


def test_after_a_failure_requests_in_flight_still_count():
    sent = threading.Event()

    def fails() -> np.ndarray:
        assert sent.wait(10)  # fail only once the other request is in flight
        raise ProviderError("quota")

    def slow() -> np.ndarray:
        sent.set()
        time.sleep(0.05)
        return np.ones((1, 2), np.float32)

    got = []
    with pytest.raises(ProviderError, match="quota"):
        for idx, _ in run_threads([([0], fails), ([1], slow)], concurrency=2):
            got.append(idx)
    assert got == [[1]]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_batch_keeps_the_others_and_the_rerun_sends_only_it(make, api, tmp_path, mode):
    cache = SqliteVectorCache(tmp_path / "c.sqlite")
    api.then(("ok",), ("status", 400, {"message": "this batch is refused"}), ("ok",))
    first = make(*OPENAI, dimensions=8, batch_size=2, concurrency=3, cache=cache)
    with pytest.raises(ProviderError, match="this batch is refused"):
        if mode == "sync":
            first.encode(TEXTS)
        else:
            asyncio.run(first.aencode(TEXTS))
    assert len(api.calls) == 3
    assert cache.stats().entries == 4  # both answered batches were kept
    sent = api.texts_sent()
    rerun = make(*OPENAI, dimensions=8, batch_size=2, concurrency=3, cache=cache)
    out = rerun.encode(TEXTS)
    assert len(api.calls) == 4  # one request: only the refused batch
    resent = api.texts_sent()[len(sent) :]
    assert len(resent) == 2 and sorted(set(sent) - set(resent)) == sorted(set(TEXTS) - set(resent))
    plain = make(*OPENAI, dimensions=8)
    np.testing.assert_allclose(out, plain.encode(TEXTS), rtol=1e-6)


_CHILD = """
import sys
from embedstack.encoders.hosted import load_hosted

encoder = load_hosted(
    "openai", "text-embedding-3-small", base_url=sys.argv[1], api_key=sys.argv[2],
    dimensions=8, batch_size=2, concurrency=3, cache=sys.argv[3],
)
encoder.encode([f"passage number {i}" for i in range(6)])
print("finished")
"""


def test_a_run_killed_after_the_first_answer_resumes_from_it(api, tmp_path):
    """SIGKILL (no cleanup at all) right after the first answer is cached: the rerun
    sends only the two requests whose answers never arrived."""
    path = tmp_path / "c.sqlite"
    url = base_url(api, "openai")
    api.then(("ok",), ("sleep", 10), ("sleep", 10))  # the other two hang until the kill
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, KEY, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        entries = 0
        # kill once the first answer is cached and the other two requests are in flight
        while (entries < 2 or len(api.calls) < 3) and child.poll() is None:
            assert time.monotonic() < deadline, "the child never got its first answer"
            time.sleep(0.05)
            if path.exists():
                with SqliteVectorCache(path) as probe:
                    entries = probe.stats().entries
        assert entries == 2, child.stderr.read().decode() if child.poll() is not None else ""
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert len(api.calls) == 3
    from embedstack.encoders.hosted import load_hosted

    rerun = load_hosted(*OPENAI, base_url=url, api_key=KEY, dimensions=8, batch_size=2, cache=path)
    rerun.encode(TEXTS)
    assert len(api.calls) == 5  # the two unanswered requests, not all three
    answered = api.calls[0].texts  # the request that got the "ok" before the kill
    assert sorted(api.texts_sent()[6:]) == sorted(set(TEXTS) - set(answered))


@pytest.mark.parametrize("provider,model", [OPENAI, ("cohere", "embed-v4.0"), ("tei", "m")])
def test_all_zero_vectors_are_refused_and_never_cached(make, api, tmp_path, provider, model):
    cache = SqliteVectorCache(tmp_path / "c.sqlite")
    api.then(("zero",))
    encoder = make(provider, model, dimensions=8, cache=cache)
    with pytest.raises(ProviderError, match="all-zero vector for input"):
        encoder.encode(["first text", "second text"])
    assert len(api.calls) == 1  # not retried: the same request would fail the same way
    assert cache.stats().entries == 0


def test_two_endpoints_with_one_model_name_never_share_vectors(make, api, tmp_path):
    cache = SqliteVectorCache(tmp_path / "c.sqlite")
    here = base_url(api, "openai")
    there = here.replace("127.0.0.1", "localhost")  # the same fake, another endpoint
    make(*OPENAI, dimensions=8, cache=cache, base_url=here).encode(["shared text"])
    make(*OPENAI, dimensions=8, cache=cache, base_url=there).encode(["shared text"])
    assert len(api.calls) == 2  # the second server was asked, not served the first's vector
    make(*OPENAI, dimensions=8, cache=cache, base_url=here).encode(["shared text"])
    assert len(api.calls) == 2


def test_the_public_endpoint_keeps_the_plain_space_key():
    cls = provider_class("openai")
    public = cls("text-embedding-3-small", offline=True)
    assert public.cache_key() == public.space.key()
    custom = cls("text-embedding-3-small", offline=True, base_url="http://proxy.local/v1")
    assert custom.space == public.space  # the vectors are the same kind: collections agree
    assert custom.cache_key() != public.cache_key()
