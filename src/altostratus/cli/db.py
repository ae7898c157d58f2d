"""``alto db``: schema migrations."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.core.files import make_private_dir
from altostratus.db import migrate
from altostratus.db.engine import Database
from altostratus.security.keyring import Keyring
from altostratus.settings import load_settings

__all__ = ["app", "upgrade"]

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Migrate the database to the newest schema (servers also do this at start)."""
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    make_private_dir(settings.data_dir)
    keyring = Keyring.load_or_create(settings.resolved_key_file)

    async def _run() -> tuple[str | None, str | None]:
        db = Database(keyring.unwrap(settings.resolved_database_url))
        try:
            before = await migrate.current_revision(db)
            await migrate.upgrade(db)
            return before, await migrate.current_revision(db)
        finally:
            await db.close()

    before, after = asyncio.run(_run())
    Console().print(f"schema revision {before or '(empty)'} → {after}")
