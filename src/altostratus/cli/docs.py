"""``alto api-docs``: write the API reference generated from the declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from altostratus.api.docs import render_reference
from altostratus.api.registry import build_registry

__all__ = ["api_docs"]


def api_docs(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: stdout.")
    ] = None,
) -> None:
    """Print (or write) the API reference: every command, who may call it, its parameters."""
    text = render_reference(build_registry())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
