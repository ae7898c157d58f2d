"""The compute side's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio

from altostratus.jobs.executor import Executor
from altostratus.runtime import Runtime
from altostratus.services.infrastructure.host_monitor import HostMonitor
from altostratus.services.infrastructure.simulator_fleet import SimulatorFleet

__all__ = ["start_compute_workers"]


def start_compute_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The job executor, the simulator fleet and the host monitor; none with
    ``compute_workers`` off (an API-only server)."""
    if not runtime.settings.compute_workers:
        return []
    executor = Executor(runtime.db, runtime.deps, runtime.registry.job_handlers)
    fleet = SimulatorFleet(runtime.db, runtime.deps)
    monitor = HostMonitor(runtime.db, runtime.deps)
    return [
        asyncio.create_task(executor.run(), name="job executor"),
        asyncio.create_task(fleet.run(), name="simulator fleet"),
        asyncio.create_task(monitor.run(), name="host monitor"),
    ]
