"""Request and response bodies. The embeddings ones follow OpenAI's `/v1/embeddings`
shape so existing clients work by changing only their base URL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

# A token id as JSON sends it (no floats, bools or numeric strings).
TokenId = Annotated[int, Strict()]


class EmbeddingsRequest(BaseModel):
    """Body of POST /v1/embeddings (OpenAI-compatible)."""

    model_config = ConfigDict(extra="ignore")

    input: str | list[str] | list[TokenId] | list[list[TokenId]] = Field(
        description="A text, a list of texts, or token arrays as OpenAI clients send them "
        "(cl100k_base ids: one list of ids per text); token ids are decoded to text."
    )
    model: str | None = Field(default=None, description="A served model id; default if omitted.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None
    input_type: Literal["query", "document"] = Field(
        default="document", description="embedstack extension: which side of retrieval."
    )


class EmbeddingItem(BaseModel):
    """One embedding in the response, at its input's index."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    """Tokens the request used, as OpenAI reports them."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    """Response of POST /v1/embeddings (OpenAI-compatible)."""

    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    """One served model in GET /v1/models."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "embedstack"
    dim: int | None = Field(
        default=None,
        description="Vector dimension; null only for a model not loaded yet "
        "whose dimension no catalog knows.",
    )


class ModelList(BaseModel):
    """Response of GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    """What went wrong, in OpenAI's error shape."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Body of every error response."""

    error: ErrorDetail


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class CollectionCreate(BaseModel):
    """Body of a request that creates a collection."""

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
    """One collection's name, size and embedding space."""

    name: str
    count: int
    model: str
    dim: int
    space: dict[str, Any]


class CollectionList(BaseModel):
    """Response listing the served collections."""

    object: Literal["list"] = "list"
    data: list[CollectionInfo]


class DocumentIn(BaseModel):
    """One document to write; upsert needs its id (add makes ids when none are given)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=512)
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsWrite(BaseModel):
    """Body of a request that adds or upserts documents."""

    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)
    mode: Literal["add", "upsert"] = "upsert"


class WriteResult(BaseModel):
    """Ids of the documents written, and how many."""

    ids: list[str]
    count: int


class DeleteRequest(BaseModel):
    """Body of a request that deletes documents by id."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1)


class DeleteResult(BaseModel):
    """How many documents a delete removed."""

    deleted: int


class DocumentOut(BaseModel):
    """One stored document, as returned by a get."""

    id: str
    text: str
    metadata: dict[str, Any]


class SearchRequest(BaseModel):
    """Body of a search request: query, k, filter and which retriever to use."""

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
    """One search hit; `stages` keeps each pipeline stage's score and rank."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    stages: dict[str, dict[str, int | float]] = Field(default_factory=dict)  # rank: int


class SearchResponse(BaseModel):
    """Response of a search request: hits, best first."""

    hits: list[HitOut]
