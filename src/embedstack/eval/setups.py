"""Comparison setups as TOML: one table per setup, or `[defaults]` plus `[[configs]]`.

Keys: `name` (required), `retriever` (any `eval --retriever` name), `model`,
`pooling`, `max_length`, `batch_size`, `encoder` (more encoder options), `params`
(preset settings, as `--param`), `cpu_hour_usd`, `usd_per_million_tokens`. Built-in
comparisons (`--preset pooling`) live in `embedstack/data/compare/`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedstack.errors import InputError

DEFAULT_CPU_HOUR_USD = 0.05  # roughly one on-demand cloud vCPU-hour in 2025
PRESET_DIR = Path(__file__).resolve().parents[1] / "data" / "compare"
_KEYS = {
    "name",
    "retriever",
    "model",
    "pooling",
    "max_length",
    "batch_size",
    "encoder",
    "params",
    "cpu_hour_usd",
    "usd_per_million_tokens",
}


@dataclass
class SetupConfig:
    """One setup to measure."""

    name: str
    retriever: str = "dense"
    model: str | None = None
    encoder_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cpu_hour_usd: float = DEFAULT_CPU_HOUR_USD
    usd_per_million_tokens: float | None = None

    @classmethod
    def from_table(cls, table: dict[str, Any], source: str) -> SetupConfig:
        """A setup from one TOML table; unknown keys are refused."""
        unknown = set(table) - _KEYS
        if unknown:
            raise InputError(
                f"{source}: unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}"
            )
        if "name" not in table:
            raise InputError(f"{source}: every config needs a 'name'")
        encoder = dict(table.get("encoder", {}))
        for key in ("pooling", "max_length"):
            if key in table:
                encoder[key] = table[key]
        return cls(
            name=str(table["name"]),
            retriever=str(table.get("retriever", "dense")),
            model=table.get("model"),
            encoder_options=encoder,
            batch_size=table.get("batch_size"),
            params=dict(table.get("params", {})),
            cpu_hour_usd=float(table.get("cpu_hour_usd", DEFAULT_CPU_HOUR_USD)),
            usd_per_million_tokens=table.get("usd_per_million_tokens"),
        )


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        from embedstack._optional import require

        tomllib = require("tomli", "eval", "reading comparison configs")
    if not path.is_file():
        raise InputError(f"config file {path} not found")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML ({exc})") from None


def load_configs(
    paths: list[Path],
    preset: str | None = None,
    model: str | None = None,
    cpu_hour_usd: float | None = None,
) -> list[SetupConfig]:
    """Configs from TOML files and/or a built-in preset (e.g. `pooling`). `model` and
    `cpu_hour_usd` override every config that does not set them itself."""
    files = list(paths)
    if preset:
        built_in = PRESET_DIR / f"{preset}.toml"
        if not built_in.exists():
            names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
            raise InputError(f"unknown comparison preset {preset!r}; available: {names}")
        files.append(built_in)
    if not files:
        raise InputError("nothing to compare: pass --config FILE (repeatable) or --preset pooling")
    configs: list[SetupConfig] = []
    for path in files:
        data = _read_toml(path)
        defaults = data.pop("defaults", {})
        tables = data.pop("configs", None)
        if tables is None:
            tables = [data]
        elif data:
            raise InputError(f"{path}: with [[configs]], only [defaults] may sit beside them")
        for table in tables:
            merged = {**defaults, **table}
            if model and "model" not in merged:
                merged["model"] = model
            if cpu_hour_usd is not None and "cpu_hour_usd" not in merged:
                merged["cpu_hour_usd"] = cpu_hour_usd
            configs.append(SetupConfig.from_table(merged, str(path)))
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise InputError(f"config names must be unique, got {names}")
    return configs
