"""The high-availability side's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio

from altostratus.ha.membership import MembershipMonitor
from altostratus.runtime import Runtime

__all__ = ["start_ha_workers"]


def start_ha_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """Membership always runs: even an API-only server is one the region should see."""
    monitor = MembershipMonitor(runtime.db, runtime.deps)
    return [asyncio.create_task(monitor.run(), name="membership")]
