"""The host jobs: reconnection and leaving maintenance wait for the outcome the request
started (entering maintenance stops VMs, so it is ``compute.maintenance``'s).

The request already changed the host (``hosts.start_maintenance``, …), so bad input
never creates a job; the job watches the host until it gets there and fails if it does
not in time. Each body returns the host's uuid, for the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from altostratus.core.context import ServiceContext
from altostratus.db.models.hosts import HostState
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.infrastructure import hosts

__all__ = ["CANCEL_MAINTENANCE", "RECONNECT", "HostPayload", "watch"]

#: How often a maintenance or reconnect job looks at the host again.
_WATCH_SECONDS = 0.25


class HostPayload(JobPayload):
    #: The host's uuid.
    id: str


async def watch(
    run: JobRun, done: Callable[[ServiceContext], Awaitable[bool]], within: float
) -> bool:
    """Look at the host until ``done`` says so (True) or ``within`` seconds passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await run.read(done):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_WATCH_SECONDS)
    return True


async def _cancel_maintenance(run: JobRun, payload: HostPayload) -> str:
    """The request took the host out of maintenance; the job only answers it."""
    return payload.id


async def _reconnect(run: JobRun, payload: HostPayload) -> str:
    host_uuid = payload.id

    async def up(ctx: ServiceContext) -> bool:
        return (await hosts.get_host(ctx, host_uuid)).state == HostState.UP

    if not await watch(run, up, run.deps.settings.host_down_after):
        raise ResourceUnavailable("The host's agent did not connect again in time")
    return host_uuid


CANCEL_MAINTENANCE = JobKind(HostPayload, _cancel_maintenance)
RECONNECT = JobKind(HostPayload, _reconnect)
