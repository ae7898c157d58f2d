"""``alto admin``: recover access without the API (lost password, leaked keys)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.errors import CloudError
from altostratus.runtime import Runtime
from altostratus.security.apikeys import generate_password
from altostratus.services.identity import credentials
from altostratus.settings import load_settings

__all__ = ["app", "new_keys", "reset_password"]

app = typer.Typer(help="Administrator recovery.", no_args_is_help=True)
T = TypeVar("T")

UsernameOption = Annotated[str, typer.Option(help="The user's name.")]
DomainOption = Annotated[str, typer.Option(help="The user's domain path.")]


def _in_transaction(
    config: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[Runtime, AsyncSession], Awaitable[T]],
) -> T:
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)

    async def _run() -> T:
        runtime = await Runtime.start(settings)
        try:
            async with runtime.db.transaction() as session:
                return await work(runtime, session)
        finally:
            await runtime.close()

    try:
        return asyncio.run(_run())
    except CloudError as error:
        Console(stderr=True).print(f"[red]error:[/] {error.text}")
        raise typer.Exit(1) from None


@app.command("reset-password")
def reset_password(
    username: UsernameOption = "admin",
    domain: DomainOption = "ROOT",
    password: Annotated[
        str | None, typer.Option(help="The new password; generated and printed if not given.")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set a user's password (and unlock it), ending its sessions; prints the password when
    it was generated."""
    new_password = password or generate_password()

    async def work(runtime: Runtime, session: AsyncSession) -> None:
        user = await credentials.find_user_by_name(session, username, domain)
        await credentials.change_password(session, runtime.deps, user, new_password)
        credentials.unlock(user)

    _in_transaction(config, data_dir, database_url, work)
    Console().print(
        f"password of {domain}/{username} reset" + ("" if password else f": {new_password}")
    )


@app.command("new-keys")
def new_keys(
    username: UsernameOption = "admin",
    domain: DomainOption = "ROOT",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Give a user a new API key pair (the old one stops working) and print it."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[str, str]:
        user = await credentials.find_user_by_name(session, username, domain)
        pair = credentials.issue_key_pair(user, runtime.deps.keyring)
        return pair.api_key, pair.secret_key

    api_key, secret_key = _in_transaction(config, data_dir, database_url, work)
    Console().print(f"apikey:    {api_key}\nsecretkey: {secret_key}", soft_wrap=True)
