"""``alto config``: the effective configuration."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.settings import Settings, load_settings

__all__ = ["app", "show"]

app = typer.Typer(help="Configuration.", no_args_is_help=True)

_SECRET_HINTS = ("password", "secret", "url")


def _shown(name: str, value: object) -> str:
    text = "" if value is None else str(value)
    if "://" in text and "@" in text and any(hint in name for hint in _SECRET_HINTS):
        scheme, rest = text.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return text


@app.command()
def show(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print every setting with its effective value (defaults < TOML < ALTO_* < flags)."""
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    table = Table("setting", "value", "environment variable", "meaning")
    for name, field in Settings.model_fields.items():
        table.add_row(
            name,
            _shown(name, getattr(settings, name)),
            f"ALTO_{name.upper()}",
            field.description or "",
        )
    Console().print(table)
