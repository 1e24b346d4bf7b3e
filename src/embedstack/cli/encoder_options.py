"""The encoder options every command taking `--model` accepts, and the one function
that turns them into an encoder.

`--pooling`, `--precision`, `--query-prefix` and `--document-prefix` choose the embedding
space from the command line (the same fields `load_encoder(spec, **options)` takes), so
a space can be picked and compared without Python. Declare them in a command with the
factories below and build the encoder with `EncoderChoice.load()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from embedstack.errors import InputError

if TYPE_CHECKING:
    from embedstack.encoders.base import Encoder

PANEL = "Embedding space (on every command that takes --model)"
MODEL_HELP = "Model spec or folder (default: $EMBEDSTACK_MODEL or minilm), e.g. hash, ./my-model."


def model_option(help: str = MODEL_HELP, envvar: str | None = None) -> Any:
    """`-m/--model SPEC`."""
    return typer.Option(None, "--model", "-m", help=help, envvar=envvar)


def pooling_option() -> Any:
    """`--pooling mean|cls|max|last`."""
    return typer.Option(
        None,
        "--pooling",
        help="mean | cls | max | last (default: the model's own).",
        rich_help_panel=PANEL,
    )


def precision_option() -> Any:
    """`--precision float32|int8`."""
    return typer.Option(
        None,
        "--precision",
        help="float32 | int8: weights precision of a local model.",
        rich_help_panel=PANEL,
    )


def query_prefix_option() -> Any:
    """`--query-prefix TEXT`."""
    return typer.Option(
        None,
        "--query-prefix",
        help="Text put before every query (default: the model's own prompt; '' for none).",
        rich_help_panel=PANEL,
    )


def document_prefix_option() -> Any:
    """`--document-prefix TEXT`."""
    return typer.Option(
        None,
        "--document-prefix",
        help="Text put before every document (default: the model's own prompt; '' for none).",
        rich_help_panel=PANEL,
    )


# option name -> the EmbeddingSpace field it sets (checked after loading)
_SPACE_FIELDS = {
    "pooling": "pooling",
    "precision": "precision",
    "query_prefix": "query_prefix",
    "document_prefix": "document_prefix",
}


@dataclass(frozen=True)
class EncoderChoice:
    """A model spec plus the encoder options given on the command line."""

    model: str | None
    options: dict[str, Any] = field(default_factory=dict)

    def load(self, **extra: Any) -> Encoder:
        """`load_encoder(model, **options, **extra)`, refusing options the model ignores."""
        from embedstack.registry import load_encoder

        try:
            encoder = load_encoder(self.model, **self.options, **extra)
        except TypeError as exc:
            raise InputError(
                f"model {self.model or 'default'!r} does not take {self._flags()}: {exc}"
            ) from None
        space = encoder.space
        for name, value in self.options.items():
            got = getattr(space, _SPACE_FIELDS[name], None)
            if str(getattr(got, "value", got)) != str(value):
                raise InputError(
                    f"model {encoder.name!r} does not take --{name.replace('_', '-')} "
                    f"(its embedding space keeps {_SPACE_FIELDS[name]}={got!r}); drop the option "
                    "or choose a local transformer model"
                )
        return encoder

    def spec_or_encoder(self) -> Encoder | str | None:
        """The spec alone when no option is set (the collection loads it lazily), else
        the loaded encoder (its space records the options)."""
        return self.load() if self.options else self.model

    def _flags(self) -> str:
        return ", ".join("--" + name.replace("_", "-") for name in self.options)


def encoder_choice(
    model: str | None,
    pooling: str | None = None,
    precision: str | None = None,
    query_prefix: str | None = None,
    document_prefix: str | None = None,
) -> EncoderChoice:
    """The `EncoderChoice` the four options describe (unset options are left out, so
    the model's own defaults apply; an empty prefix is kept: it removes the model's)."""
    given = {
        "pooling": pooling,
        "precision": precision,
        "query_prefix": query_prefix,
        "document_prefix": document_prefix,
    }
    return EncoderChoice(model, {k: v for k, v in given.items() if v is not None})
