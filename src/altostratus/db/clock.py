"""The region's one clock for coordination: the database's.

A lease's expiry, a heartbeat and the silence that declares a peer Down are written by
one management server and judged by another. Were each server to use its own clock, a
server running a minute fast would take a lease its holder still renews, or declare Down
a peer that is alive, and two servers would do the same singleton work (fence the same
host, resume the same job). Reading the time from the database within the transaction
that writes or compares it makes those decisions independent of the servers' clocks.

Timestamps only shown to users (``created``, ``removed``) keep the server's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["database_now"]

_SQLITE_NOW = func.strftime("%Y-%m-%d %H:%M:%f", "now")


async def database_now(session: AsyncSession) -> datetime:
    """The database server's current UTC time (not the transaction's start time).

    PostgreSQL answers ``clock_timestamp()``. SQLite runs in this process, so its clock is
    this machine's, read by the SQLite library itself, to the millisecond.
    """
    if session.get_bind().dialect.name == "sqlite":
        text = (await session.execute(select(_SQLITE_NOW))).scalar_one()
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    now: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    return now
