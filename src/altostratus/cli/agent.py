"""``alto agent``: run host agents, and read a zone's agent registration token.

    alto agent --endpoint http://mgmt1:8080 --endpoint http://mgmt2:8080 --token T \\
        --driver libvirt --libvirt-uri qemu:///system --name kvm1
    alto agent --endpoint http://127.0.0.1:8080 --token T --driver simulator \\
        --hosts 100 --name-prefix sim-
    alto agent --endpoint http://127.0.0.1:8080 --token T --driver simulator \\
        --shared-storage /mnt/primary --probe-listen 10.0.0.5:7070 --name-prefix a-
    alto agent token --zone zone1        # reads the database, like ``alto admin``

``alto-agent`` is the same command on its own: ``alto`` loads every command of the
server (seconds of imports), ``alto-agent`` only the agent, so a host that powers on
registers sooner. What only ``token`` needs (the database) is imported when it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from altostratus.agent.main import AgentOptions, libvirt_driver, run_agents, simulator_driver
from altostratus.agent.probe import parse_address
from altostratus.agent.shared_storage import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LEASE_TTL
from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
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
    shared_storage: Annotated[
        Path | None,
        typer.Option(
            help="The cluster's shared primary storage, for storage heartbeats and disk "
            "leases (libvirt: default the storage directory; simulator: none)."
        ),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            help="The ledger of VM starts and stops (default: ledger.jsonl on the shared storage)."
        ),
    ] = None,
    probe_listen: Annotated[
        str | None,
        typer.Option(
            help="ADDRESS:PORT of the probe listener neighbours check this host with "
            "(this host's own address, reachable from its neighbours)."
        ),
    ] = None,
    lease_ttl: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds a disk lease stays live without renewal."),
    ] = DEFAULT_LEASE_TTL,
    storage_heartbeat_interval: Annotated[
        float,
        typer.Option(
            min=0.05,
            help="Seconds between storage heartbeats and lease renewals (under the TTL).",
        ),
    ] = DEFAULT_HEARTBEAT_INTERVAL,
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
        shared_storage = shared_storage or storage_dir
    else:
        raise typer.BadParameter(f"unknown driver {driver}: use libvirt or simulator")
    if storage_heartbeat_interval >= lease_ttl:
        raise typer.BadParameter("--storage-heartbeat-interval must be shorter than --lease-ttl")
    if probe_listen is not None:
        _check_probe_address(probe_listen)
    options = AgentOptions(
        endpoints=endpoint,
        token=token,
        names=names,
        cluster=cluster,
        host_tags=tuple(host_tag or ()),
        shared_storage=shared_storage,
        ledger=ledger,
        probe_listen=probe_listen,
        lease_ttl=lease_ttl,
        storage_heartbeat_interval=storage_heartbeat_interval,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_agents(options, make_driver))


def _check_probe_address(address: str) -> None:
    """Neighbours connect to the address the agent reports: a wildcard reaches no one."""
    try:
        host, _port = parse_address(address)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--probe-listen") from error
    if host in ("0.0.0.0", "::"):
        raise typer.BadParameter(
            "give this host's own address, which neighbours can reach", param_hint="--probe-listen"
        )


@app.command("token")
def token_command(
    zone: Annotated[str, typer.Option(help="The zone's name.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print the zone's agent registration token (created on first use)."""
    from sqlalchemy import select

    from altostratus.db.models import Zone
    from altostratus.runtime import Runtime
    from altostratus.services.agents.link import zone_token

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
