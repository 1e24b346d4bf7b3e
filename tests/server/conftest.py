from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from embedstack.encoders.hashing import HashEncoder
from embedstack.server.app import create_app
from embedstack.server.settings import ServerSettings


def hash_factory(spec: str) -> HashEncoder:
    dim = int(spec.split(":", 1)[1]) if ":" in spec else 32
    return HashEncoder(dim)


def make_app(**overrides):
    settings = ServerSettings(models=overrides.pop("models", ["hash:32"]), **overrides)
    return create_app(settings, encoder_factory=hash_factory)


@pytest.fixture
def client() -> Iterator[httpx.AsyncClient]:
    app = make_app()
    transport = httpx.ASGITransport(app=app)
    yield httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server whose collections live in a fresh folder."""
    app = make_app(collections_dir=tmp_path / "cols")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c
