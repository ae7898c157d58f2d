"""``/health`` and ``/health/ready``: what a load balancer asks before routing to a server."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from altostratus.api import health
from altostratus.settings import Settings


async def test_alive_and_ready(http: httpx.AsyncClient) -> None:
    alive = await http.get("/health")
    ready = await http.get("/health/ready")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def _begin_immediate(connection: sqlite3.Connection) -> None:
    """Take SQLite's write lock, letting the server's own writers (membership heartbeats)
    finish first: they need this event loop, so waiting inside SQLite would deadlock."""
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError:
            await asyncio.sleep(0.02)


async def test_not_ready_while_the_database_cannot_take_writes(
    app: Starlette, http: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite locked by another process, or PostgreSQL turned read-only (a standby)."""
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.5)
    db = app.state.runtime.db
    if db.is_sqlite:
        assert settings.database_url is not None
        other = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), timeout=0)
        other.isolation_level = None
        await _begin_immediate(other)
        try:
            answer = await http.get("/health/ready")
        finally:
            other.execute("ROLLBACK")
            other.close()
    else:
        name = db.url.database
        async with db.engine.connect() as connection:
            await connection.execute(
                text(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
            )
            await connection.commit()
        await db.engine.dispose()  # new connections see the setting, as after a failover
        try:
            answer = await http.get("/health/ready")
        finally:
            async with db.engine.connect() as connection:
                await connection.execute(text("SET transaction_read_only = off"))
                await connection.execute(
                    text(f"ALTER DATABASE {name} SET default_transaction_read_only = off")
                )
                await connection.commit()
            await db.engine.dispose()
    assert answer.status_code == 503
    assert answer.json()["status"] == "not ready"
    assert (await http.get("/health")).status_code == 200
    # Writers of this server queued behind the lock go first: give them the real timeout.
    monkeypatch.undo()
    assert (await http.get("/health/ready")).status_code == 200
