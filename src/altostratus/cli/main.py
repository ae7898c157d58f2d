"""``alto``: the one command-line entry point."""

from __future__ import annotations

import logging

import typer

from altostratus.cli import admin, agent, config, db, docs, region, secret, usage
from altostratus.cli.server import server

__all__ = ["app", "main"]

app = typer.Typer(
    name="alto",
    help="Altostratus: a multi-region cloud management server speaking the CloudStack API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(server)
app.command("api-docs")(docs.api_docs)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.add_typer(config.app, name="config")
app.add_typer(secret.app, name="secret")
app.add_typer(region.app, name="region")
app.add_typer(agent.app, name="agent")
app.add_typer(usage.app, name="usage")


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
