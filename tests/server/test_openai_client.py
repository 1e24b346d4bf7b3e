"""The official `openai` client pointed at a real uvicorn server on loopback."""

import numpy as np
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.registry import load_encoder
from embedstack.server.app import create_app
from embedstack.server.settings import ServerSettings
from live_server import running

from .conftest import make_app

openai = pytest.importorskip("openai")


def test_openai_client_gets_the_local_encoders_vectors():
    texts = ["Local-first embeddings.", "Ein Satz auf Deutsch.", "emoji 🚀 too"]
    with running(make_app()) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        got = client.embeddings.create(model="hash:32", input=texts)  # base64 on the wire
        floats = client.embeddings.create(model="hash:32", input=texts, encoding_format="float")
        with pytest.raises(openai.NotFoundError) as excinfo:
            client.embeddings.create(model="text-embedding-3-small", input=texts)
    expected = HashEncoder(32).encode(texts)
    np.testing.assert_array_equal(
        np.array([d.embedding for d in got.data], dtype=np.float32), expected
    )
    np.testing.assert_allclose([d.embedding for d in floats.data], expected, atol=1e-7)
    assert "not served" in str(excinfo.value)


@pytest.mark.model
def test_openai_client_with_default_local_model():
    texts = ["How do I reset my password?", "Der Himmel ist blau."]
    app = create_app(ServerSettings(models=["minilm"]))
    with running(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        got = client.embeddings.create(model="minilm", input=texts)
    expected = load_encoder("minilm").encode(texts)
    np.testing.assert_allclose(np.array([d.embedding for d in got.data]), expected, atol=1e-6)
