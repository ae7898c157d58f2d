"""The compute side's background work, started and stopped with the application."""

from __future__ import annotations

import asyncio

from altostratus.jobs.executor import Executor
from altostratus.runtime import Runtime

__all__ = ["start_compute_workers"]


def start_compute_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The job executor; none with ``compute_workers`` off (an API-only server)."""
    if not runtime.settings.compute_workers:
        return []
    executor = Executor(runtime.db, runtime.deps, runtime.registry.job_handlers)
    return [asyncio.create_task(executor.run(), name="job executor")]
