"""Options shared by the subcommands that open a region's database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOption", "DataDirOption", "DatabaseUrlOption"]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML configuration file (or ALTO_CONFIG).", dir_okay=False
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Directory holding the SQLite file and keys (ALTO_DATA_DIR)."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://user:pass@host:port/db instead of SQLite (ALTO_DATABASE_URL).",
    ),
]
