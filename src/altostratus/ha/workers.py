"""The high-availability side's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from altostratus.ha.membership import MembershipMonitor
from altostratus.runtime import Runtime

__all__ = ["region_membership"]


@asynccontextmanager
async def region_membership(runtime: Runtime) -> AsyncIterator[None]:
    """Be one of the region's management servers while the block runs.

    Joins with a first heartbeat (so a server is listed as soon as it serves), keeps
    heartbeating, and at the end leaves: Down at once, so peers need not wait for
    ``server_down_after``. Membership always runs: an API-only server is one too.
    """
    monitor = MembershipMonitor(runtime.db, runtime.deps)
    await monitor.run_once()
    heartbeats = asyncio.create_task(monitor.run(), name="membership")
    try:
        yield
    finally:
        heartbeats.cancel()
        await asyncio.gather(heartbeats, return_exceptions=True)
        await monitor.leave()
