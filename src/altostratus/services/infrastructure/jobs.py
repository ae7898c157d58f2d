"""The host jobs: maintenance and reconnection wait for the outcome the request started.

The request already changed the host (``hosts.start_maintenance``, …), so bad input
never creates a job; the job watches the host until it gets there and fails if it does
not in time. Each body returns the host's uuid, for the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from altostratus.core.context import ServiceContext
from altostratus.db.models.hosts import HostState, ResourceState
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.infrastructure import hosts, maintenance

__all__ = ["CANCEL_MAINTENANCE", "PREPARE_MAINTENANCE", "RECONNECT", "HostPayload"]

#: How often a maintenance or reconnect job looks at the host again.
_WATCH_SECONDS = 0.25


class HostPayload(JobPayload):
    #: The host's uuid.
    id: str


async def _watch(
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


async def _prepare_maintenance(run: JobRun, payload: HostPayload) -> str:
    host_uuid = payload.id
    stop_jobs = await run.step("stop", lambda ctx: maintenance.submit_stops(ctx, host_uuid))
    run.deps.signals.jobs_submitted()

    async def settled(ctx: ServiceContext) -> bool:
        state = await maintenance.progress(ctx, host_uuid, stop_jobs)
        return state.cancelled or state.settled

    within = 2 * run.deps.settings.agent_command_timeout + 10
    await _watch(run, settled, within)
    outcome = await run.step("finish", lambda ctx: maintenance.finish(ctx, host_uuid))
    if outcome == ResourceState.ERROR_IN_MAINTENANCE:
        raise ResourceUnavailable(
            "Some VMs of the host could not be stopped; it is ErrorInMaintenance"
        )
    return host_uuid


async def _cancel_maintenance(run: JobRun, payload: HostPayload) -> str:
    """The request took the host out of maintenance; the job only answers it."""
    return payload.id


async def _reconnect(run: JobRun, payload: HostPayload) -> str:
    host_uuid = payload.id

    async def up(ctx: ServiceContext) -> bool:
        return (await hosts.get_host(ctx, host_uuid)).state == HostState.UP

    if not await _watch(run, up, run.deps.settings.host_down_after):
        raise ResourceUnavailable("The host's agent did not connect again in time")
    return host_uuid


PREPARE_MAINTENANCE = JobKind(HostPayload, _prepare_maintenance)
CANCEL_MAINTENANCE = JobKind(HostPayload, _cancel_maintenance)
RECONNECT = JobKind(HostPayload, _reconnect)
