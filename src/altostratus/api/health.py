"""``/health`` (the process answers) and ``/health/ready`` (it can serve writes).

A load balancer routes API traffic by ``/health/ready``: a server whose database is
gone, or is a read-only standby after a failover, answers 503 there while ``/health``
still says the process itself is alive (so a supervisor does not restart it for it).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS

__all__ = ["database_writable", "health", "ready"]

log = logging.getLogger(__name__)

#: How long readiness waits for the database before it says no.
READY_TIMEOUT_SECONDS = 5.0


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    if await database_writable(request.app.state.runtime.db):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "database": "unavailable"}, status_code=503)


async def database_writable(db: Database) -> bool:
    """Whether a write transaction can begin now (on PostgreSQL: on a primary)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), db.transaction() as session:
            if db.is_sqlite:
                # The first statement begins the transaction: BEGIN IMMEDIATE takes the lock.
                await session.execute(text("SELECT 1"))
                return True
            read_only = await session.scalar(text("SHOW transaction_read_only"))
        if read_only == "off":
            return True
        # A demoted primary: its pooled connections still answer pings. Drop them so the
        # next connection goes to the node that is primary now.
        await db.engine.dispose()
        return False
    except (*DATABASE_ERRORS, TimeoutError):
        log.warning("not ready: the database cannot take writes", exc_info=True)
        return False
