"""``alto region``: bring a region into a federation."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.federation.join import JoinError, JoinRequest, join_region
from altostratus.security.keyring import KeyFileMismatch
from altostratus.settings import load_settings

__all__ = ["app", "join"]

app = typer.Typer(help="Regions of a federation.", no_args_is_help=True)


@app.command()
def join(
    peer: Annotated[str, typer.Option(help="API endpoint of any region of the federation.")],
    peer_apikey: Annotated[str, typer.Option(help="A root admin's API key there.")],
    peer_secretkey: Annotated[str, typer.Option(help="That root admin's secret key.")],
    region_id: Annotated[
        int | None,
        typer.Option(help="This region's id (default: what its database was started with)."),
    ] = None,
    region_name: Annotated[str | None, typer.Option(help="This region's name.")] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="URL the other regions reach this region's API at (…/client/api)."),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Join this (new, stopped) region to the federation of the region at PEER.

    The peer registers this region (every region learns it) and sends the federation's
    keys and a snapshot of the global tables, which replace this region's own. Run it
    while this region's servers are stopped, on a fresh data directory (or one whose
    server was only started once); then start the server.
    """
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    console = Console(stderr=True, soft_wrap=True)
    request = JoinRequest(
        peer=peer,
        api_key=peer_apikey,
        secret_key=peer_secretkey,
        region_id=region_id,
        region_name=region_name,
        endpoint=endpoint,
    )
    try:
        joined = asyncio.run(join_region(settings, request))
    except (JoinError, KeyFileMismatch) as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    console.print(
        f"[bold]region {joined.region_id} ({joined.region_name})[/] joined the federation of "
        f"{peer}; its endpoint is {joined.endpoint}.\n"
        f"The root admin's API keys (the ones given) are in {joined.admin_file} (mode 0600).\n"
        f"Next: start it with  alto server --data-dir {settings.data_dir}"
        + (" --database-url …" if settings.database_url else "")
        + " --port <the endpoint's port>"
    )
    if settings.database_url and settings.database_url.startswith("ENC("):
        console.print(
            "[yellow]note:[/] the database URL is encrypted with the replaced key file: "
            "encrypt it again with `alto secret encrypt` before starting the server"
        )
