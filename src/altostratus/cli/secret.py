"""``alto secret``: encrypt values for the configuration file."""

from __future__ import annotations

import typer

from altostratus.cli.options import ConfigOption, DataDirOption
from altostratus.security.keyring import Keyring
from altostratus.settings import load_settings

__all__ = ["app", "encrypt"]

app = typer.Typer(help="Secrets in the configuration file.", no_args_is_help=True)


@app.command()
def encrypt(
    value: str = typer.Argument(..., help="The secret, e.g. a database URL with its password."),
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print ENC(...) for VALUE, to paste into the TOML file; decrypted with the key file."""
    settings = load_settings(config, data_dir=data_dir)
    typer.echo(Keyring.load_or_create(settings.resolved_key_file).wrap(value))
