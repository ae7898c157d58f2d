"""``alto agent``: run host agents, and read a zone's agent registration token.

    alto agent --endpoint http://mgmt1:8080 --endpoint http://mgmt2:8080 --token T \\
        --driver libvirt --libvirt-uri qemu:///system --name kvm1
    alto agent --endpoint http://127.0.0.1:8080 --token T --driver simulator \\
        --hosts 100 --name-prefix sim-
    alto agent token --zone zone1        # reads the database, like ``alto admin``
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from altostratus.agent.main import AgentOptions, libvirt_driver, run_agents, simulator_driver
from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.db.models import Zone
from altostratus.runtime import Runtime
from altostratus.services.agents.link import zone_token
from altostratus.settings import load_settings

__all__ = ["agent", "app", "token_command"]

app = typer.Typer(
    help="Run host agents (default), or read a zone's registration token.",
    invoke_without_command=True,
)


@app.callback()
def agent(
    ctx: typer.Context,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(help="A management server (repeat for each; failover in this order)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ALTO_AGENT_TOKEN",
            help="The zone's registration token (alto agent token); from the environment "
            "it stays out of the process list.",
        ),
    ] = None,
    driver: Annotated[str, typer.Option(help="libvirt or simulator.")] = "libvirt",
    name: Annotated[
        str | None, typer.Option(help="The host's name (default: this machine's name).")
    ] = None,
    hosts: Annotated[int, typer.Option(min=1, help="Simulator: how many hosts to run.")] = 1,
    name_prefix: Annotated[
        str, typer.Option(help="Simulator: hosts are named PREFIX1..PREFIXN.")
    ] = "sim-",
    libvirt_uri: Annotated[str, typer.Option(help="libvirt connection URI.")] = "qemu:///system",
    storage_dir: Annotated[
        Path, typer.Option(help="libvirt: where templates and disks are kept.")
    ] = Path("/var/lib/altostratus/agent"),
    cluster: Annotated[
        str | None, typer.Option(help="The cluster a new host joins (default: by hypervisor).")
    ] = None,
    host_tag: Annotated[list[str] | None, typer.Option(help="A tag of the host (repeat).")] = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not endpoint or not token:
        raise typer.BadParameter("--endpoint and --token are needed to run an agent")
    if driver == "simulator":
        names = [f"{name_prefix}{number}" for number in range(1, hosts + 1)]
        make_driver = simulator_driver
    elif driver == "libvirt":
        names = [name or socket.gethostname()]
        make_driver = libvirt_driver(libvirt_uri, storage_dir)
    else:
        raise typer.BadParameter(f"unknown driver {driver}: use libvirt or simulator")
    options = AgentOptions(
        endpoints=endpoint,
        token=token,
        names=names,
        cluster=cluster,
        host_tags=tuple(host_tag or ()),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_agents(options, make_driver))


@app.command("token")
def token_command(
    zone: Annotated[str, typer.Option(help="The zone's name.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print the zone's agent registration token (created on first use)."""
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)

    async def read() -> str | None:
        runtime = await Runtime.start(settings)
        try:
            async with runtime.db.transaction() as session:
                row = await session.scalar(select(Zone).where(Zone.name == zone))
                return None if row is None else await zone_token(session, runtime.deps.keyring, row)
        finally:
            await runtime.close()

    value = asyncio.run(read())
    if value is None:
        Console(stderr=True).print(f"[red]error:[/] no zone named {zone}")
        raise typer.Exit(1)
    print(value)
