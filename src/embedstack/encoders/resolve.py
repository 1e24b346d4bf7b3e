"""Where a model's files come from, in one clear order.

1. an explicit spec: an existing folder, a catalog name (`minilm`) or a hub id (`org/name`);
2. `EMBEDSTACK_MODEL` when no spec is given;
3. for catalog models, the installed weights package (verified by sha256 first);
4. the Hugging Face cache, then the hub when online (`huggingface_hub`, the `[hub]` extra;
   honours `HF_ENDPOINT` and `HF_HUB_OFFLINE`);
5. otherwise `ModelNotFoundError` with the exact command that fixes it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from embedstack import catalog
from embedstack.config import DEFAULT_MODEL, ENV_MODEL
from embedstack.encoders.transformer import file_sha256
from embedstack.errors import EmbedstackError, ModelNotFoundError

log = logging.getLogger(__name__)

# Files a sentence-embedding model folder may use; only the first three are required.
HUB_FILES = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "1_Pooling/config.json",
]


@dataclass(frozen=True)
class ResolvedModel:
    """A model folder on disk. `spec` reloads the same model (it goes into the
    embedding space); `source` says where the files were found, for humans."""

    spec: str
    path: Path
    source: str


def package_dir(package: str, subdir: str = "") -> Path | None:
    """Folder of an installed package, found without importing it."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / subdir


def verify_sha256(path: Path, expected: str, install: str) -> None:
    """Refuse weights whose sha256 is not the catalog's, naming the reinstall command."""
    actual = file_sha256(path)
    if actual != expected:
        raise ModelNotFoundError(
            f"{path} has sha256 {actual}, expected {expected}: the weights are damaged or not "
            f"the ones embedstack knows. Reinstall them with: {install} --force-reinstall"
        )


def _catalog_name_for(path: Path) -> str | None:
    """A catalog name if this folder holds exactly a catalog model's weights."""
    weights = path / "model.safetensors"
    if not weights.is_file():
        return None
    entry = catalog.entry_for_sha256(file_sha256(weights))
    return entry.name if entry else None


def _download(repo_id: str, local_only: bool, endpoint: str | None) -> Path | None:
    """Fetch HUB_FILES one by one (optional ones may be missing); the snapshot folder."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    folder: Path | None = None
    for name in HUB_FILES:
        try:
            got = hf_hub_download(repo_id, name, local_files_only=local_only, endpoint=endpoint)
        except EntryNotFoundError:
            if name in HUB_FILES[:3]:
                return None
            continue
        folder = Path(got).parents[name.count("/")]
    return folder


def from_hub(repo_id: str) -> Path | None:
    """The Hugging Face cache first; the hub only when online. None when not found."""
    if importlib.util.find_spec("huggingface_hub") is None:
        log.debug("huggingface_hub not installed; skipping the hub for %s", repo_id)
        return None
    endpoint = os.environ.get("HF_ENDPOINT") or None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    for local_only in (True, False) if not offline else (True,):
        try:
            folder = _download(repo_id, local_only, endpoint)
        except Exception as exc:  # any hub or network failure means "not here"
            log.debug("hub lookup of %s (local_only=%s) failed: %s", repo_id, local_only, exc)
            continue
        if folder is not None:
            return folder
    return None


def resolve_model(spec: str | None = None) -> ResolvedModel:
    """Find the files for `spec` (None: `EMBEDSTACK_MODEL`, else the default model)."""
    spec = spec or os.environ.get(ENV_MODEL) or DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.is_dir():
        root = path.resolve()
        return ResolvedModel(_catalog_name_for(root) or str(root), root, f"folder {root}")
    # A catalog model asked for by its hub id is the same model: use the verified package.
    entry = catalog.catalog_entry(spec) or catalog.entry_for_hub_id(spec)
    if entry is not None:
        if entry.kind != "transformer":
            raise EmbedstackError(f"{spec!r} is a {entry.kind} model, not a transformer")
        folder = package_dir(entry.source_package, entry.package_subdir)
        if folder is not None and (folder / "model.safetensors").is_file():
            verify_sha256(folder / "model.safetensors", entry.sha256, entry.install)
            return ResolvedModel(entry.name, folder, f"package {entry.source_package}")
        hub = from_hub(entry.hf_id)
        if hub is not None:
            verify_sha256(hub / "model.safetensors", entry.sha256, entry.install)
            return ResolvedModel(entry.name, hub, f"huggingface {entry.hf_id}")
        raise ModelNotFoundError(
            f"the weights of {spec!r} ({entry.hf_id}) are not installed. "
            f"Install them with: {entry.install}"
        )
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        hub = from_hub(spec)
        if hub is not None:
            return ResolvedModel(spec, hub, f"huggingface {spec}")
        raise ModelNotFoundError(
            f"{spec!r} is not in the Hugging Face cache and could not be downloaded. Go online "
            "with: pip install 'embedstack[hub]' (and unset HF_HUB_OFFLINE), or pass a local "
            "model folder"
        )
    raise ModelNotFoundError(
        f"no model {spec!r}: not a folder, a known name or a hub id. Run `embedstack models` "
        f"to see what is available, or install the default with: {_default_install()}"
    )


def _default_install() -> str:
    entry = catalog.catalog_entry(DEFAULT_MODEL)
    return entry.install if entry else "pip install embedstack"


@dataclass(frozen=True)
class ModelStatus:
    """What `embedstack models` reports for one catalog entry."""

    name: str
    kind: str
    dim: int
    licence: str
    hf_id: str
    installed: bool
    source: str
    path: str
    install: str
    default: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (the `embedstack models --json` shape)."""
        return dict(self.__dict__)


def _hub_cached(repo_id: str) -> Path | None:
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "model.safetensors")
    return Path(found).parent if isinstance(found, str) else None


def catalog_status() -> list[ModelStatus]:
    """Each catalog model: installed or not, from where, and how to install it.

    Cheap: looks for files, does not hash them (loading a model verifies the sha256).
    """
    default = os.environ.get(ENV_MODEL) or DEFAULT_MODEL
    out = []
    for entry in catalog.CATALOG:
        folder = package_dir(entry.source_package, entry.package_subdir)
        source, where = "", ""
        if folder is not None and folder.exists():
            source, where = f"package {entry.source_package}", str(folder)
        elif entry.kind == "transformer" and (cached := _hub_cached(entry.hf_id)) is not None:
            source, where = "huggingface cache", str(cached)
        out.append(
            ModelStatus(
                name=entry.name,
                kind=entry.kind,
                dim=entry.dim,
                licence=entry.licence,
                hf_id=entry.hf_id,
                installed=bool(source),
                source=source,
                path=where,
                install=entry.install,
                default=entry.name == default,
            )
        )
    out.append(  # built in, no weights: deterministic vectors for tests and dry runs
        ModelStatus(
            name="hash",
            kind="hash",
            dim=256,
            licence="Apache-2.0",
            hf_id="",
            installed=True,
            source="built in, for tests; hash:DIM",
            path="",
            install="",
            default=default == "hash",
        )
    )
    return out
