"""`embedstack distill`: make a static model from a transformer (model2vec's method)."""

from __future__ import annotations

import json

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    """Add the distill command to the CLI app."""

    @app.command()
    def distill(
        model: str = typer.Argument(
            ..., help="Transformer: catalog name (minilm) or local folder."
        ),
        out: str = typer.Option(..., "--out", "-o", help="New folder for the static model."),
        pca_dims: int = typer.Option(
            256, "--pca-dims", help="Output dimension (PCA); 0 keeps all."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Distill MODEL into a static model that embeds ~100x faster, at some quality cost.

        Example: embedstack distill minilm --out ./my-static-model
        then:    embedstack embed "a sentence" --model ./my-static-model
        """
        from embedstack.encoders.distill import distill as run
        from embedstack.encoders.static import load_static

        path = run(model, out, pca_dims=pca_dims or None)
        encoder = load_static(str(path))
        result = {"path": str(path), "dim": encoder.dim, "vocabulary": len(encoder.table.words)}
        if as_json:
            typer.echo(json.dumps(result))
        else:
            Console(emoji=False).print(
                f"static model written to [bold]{path}[/] ({result['vocabulary']} tokens x "
                f"{result['dim']} dims); use it with --model {path}"
            )
