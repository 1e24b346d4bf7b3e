"""Request and response bodies. The embeddings ones follow OpenAI's `/v1/embeddings`
shape so existing clients work by changing only their base URL."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str] = Field(
        description="A text or a list of texts. Token arrays are not accepted: send text."
    )
    model: str | None = Field(default=None, description="A served model id; default if omitted.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None
    input_type: Literal["query", "document"] = Field(
        default="document", description="embedstack extension: which side of retrieval."
    )


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "embedstack"
    dim: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    model: str | None = Field(default=None, description="A served model id; default if omitted.")
    bm25: bool = True
    indexes: list[str] = Field(
        default_factory=list,
        description="Extra indexes whose model the server was started with "
        "(--index-model splade=DIR, --index-model colbert=DIR), e.g. ['splade'].",
    )


class CollectionInfo(BaseModel):
    name: str
    count: int
    model: str
    dim: int
    space: dict[str, Any]


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CollectionInfo]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=512)
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)
    mode: Literal["add", "upsert"] = "upsert"


class WriteResult(BaseModel):
    ids: list[str]
    count: int


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1)


class DeleteResult(BaseModel):
    deleted: int


class DocumentOut(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1, le=1000)
    where: dict[str, Any] | None = None
    retriever: str = Field(
        default="dense",
        description="dense, an index of the collection (bm25, splade, colbert), hybrid "
        "(dense + bm25 fused) or hybrid+rerank.",
    )
    rerank: bool = Field(
        default=False,
        description="Rerank the top hits with the cross-encoder the server was started "
        "with (--reranker DIR).",
    )


class HitOut(BaseModel):
    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    stages: dict[str, dict[str, float]] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    hits: list[HitOut]
