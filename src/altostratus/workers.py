"""Every background worker of a management server, built from the runtime in one place.

The application's lifespan starts them and stops them; no worker module imports the
runtime, so the packages below (federation, ha, jobs, services) stay free of what
builds them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from altostratus.federation.audit import start_auditor
from altostratus.federation.gc import start_collector
from altostratus.federation.notifier import start_notifier
from altostratus.federation.puller import start_puller
from altostratus.ha.membership import MembershipMonitor
from altostratus.jobs.executor import Executor, JobHandler
from altostratus.runtime import Runtime
from altostratus.services.agents.simulator_fleet import SimulatorFleet
from altostratus.services.infrastructure.host_monitor import HostMonitor

__all__ = ["region_membership", "start_compute_workers", "start_federation_workers"]


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


def start_federation_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The puller, notifier, audit and garbage collection.

    A server with ``background_workers`` off only answers the API: it contacts no peer.
    """
    if not runtime.settings.background_workers:
        return []
    federation = runtime.federation
    return [
        start_puller(federation),
        start_notifier(federation),
        start_auditor(federation),
        start_collector(federation),
    ]


def start_compute_workers(
    runtime: Runtime, job_handlers: Mapping[str, JobHandler[Any]]
) -> list[asyncio.Task[None]]:
    """The job executor, the simulator fleet and the host monitor; none with
    ``compute_workers`` off (an API-only server)."""
    if not runtime.settings.compute_workers:
        return []
    executor = Executor(runtime.db, runtime.deps, job_handlers)
    fleet = SimulatorFleet(runtime.db, runtime.deps)
    monitor = HostMonitor(runtime.db, runtime.deps)
    return [
        asyncio.create_task(executor.run(), name="job executor"),
        asyncio.create_task(fleet.run(), name="simulator fleet"),
        asyncio.create_task(monitor.run(), name="host monitor"),
    ]
