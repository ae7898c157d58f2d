"""``alto server``: run a management server."""

from __future__ import annotations

import errno
import socket
from contextlib import suppress
from functools import partial
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from altostratus.api.app import create_app
from altostratus.api.connections import timed_protocol
from altostratus.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption
from altostratus.core.files import make_private_dir
from altostratus.settings import Settings, load_settings

__all__ = ["server"]


def server(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8080).")] = None,
    workers: Annotated[int | None, typer.Option(help="Server processes (default 1).")] = None,
    region_id: Annotated[
        int | None, typer.Option(help="This region's id; first start only (default 1).")
    ] = None,
    region_name: Annotated[
        str | None, typer.Option(help='This region\'s name; first start only (default "Local").')
    ] = None,
    public_endpoint: Annotated[
        str | None, typer.Option(help="URL clients use to reach the API, if not host:port.")
    ] = None,
    quickstart: Annotated[
        bool | None,
        typer.Option(
            "--quickstart",
            help="On a region without zones, create a simulated zone ready to deploy VMs.",
        ),
    ] = None,
) -> None:
    """Start a management server: the API on /client/api, /health and /metrics.

    On the first start of a database it creates the ROOT domain and the admin account,
    and writes the admin's credentials to DATA_DIR/admin.json (mode 0600).
    """
    settings = load_settings(
        config,
        data_dir=data_dir,
        database_url=database_url,
        host=host,
        port=port,
        workers=workers,
        region_id=region_id,
        region_name=region_name,
        public_endpoint=public_endpoint,
        quickstart=quickstart,
    )
    listener = _listen(settings)
    make_private_dir(settings.data_dir)
    Console(stderr=True).print(
        f"[bold]Altostratus[/] region {settings.region_id} on {settings.endpoint} "
        f"(data in {settings.data_dir.resolve()})"
    )
    with listener:
        _serve(settings, listener)


def _listen(settings: Settings) -> socket.socket:
    """The listening socket, bound before anything starts: a port already taken is one
    clear sentence and a non-zero exit, not uvicorn's error after the start-up work."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # The protocol is named, not left 0: asyncio turns Nagle's algorithm off only on
    # connections whose socket says IPPROTO_TCP. Left on, a response written in two
    # parts (headers, then body) waits for the client's delayed ACK: 40 ms a request.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        where = f"{settings.host}:{settings.port}"
        other = settings.port + 1 if settings.port < 65535 else 8081
        if error.errno == errno.EADDRINUSE:
            reason = (
                f"port {settings.port} is already in use on {settings.host} "
                "(another server is listening there)"
            )
        else:
            reason = error.strerror or str(error)
        Console(stderr=True).print(
            f"[bold red]Cannot listen on {where}[/]: {reason}.\n"
            f"Choose another port with --port, e.g. alto server --port {other} "
            f"(scripts/run passes it on: bash scripts/run --port {other}).",
            highlight=False,
        )
        raise typer.Exit(STARTUP_FAILURE) from None
    listener.set_inheritable(True)
    return listener


def _serve(settings: Settings, listener: socket.socket) -> None:
    """``uvicorn.run`` without its rule that workers need an import string: the factory
    carries the settings themselves, pickled into each worker process, so no worker has
    to rebuild them from a file or an environment that may have changed since."""
    config = uvicorn.Config(
        partial(create_app, settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        http=timed_protocol(settings),
        timeout_keep_alive=settings.http_idle_timeout,
    )
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):  # Ctrl-C is how a server in a terminal stops
        if config.workers > 1:
            Multiprocess(config, sockets=[listener]).run()
        else:
            server.run(sockets=[listener])
    if config.workers == 1 and not server.started:
        raise typer.Exit(STARTUP_FAILURE)
