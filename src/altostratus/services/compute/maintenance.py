"""Host maintenance: stop the host's VMs through ordinary jobs, then mark it Maintenance.

It is compute's, not infrastructure's: draining a host is a decision about its VMs.

``prepareHostForMaintenance`` moves the host to ``PrepareForMaintenance`` in its request
(so the scheduler stops placing VMs there at once), and its job submits one
``stopVirtualMachine`` job per Running VM, then waits until the hypervisor holds none.
Stopping through the VM jobs keeps one code path for the VM state machine, capacity
and events. If VMs remain once every stop job ended, the host is
``ErrorInMaintenance``; ``cancelHostMaintenance`` brings either back to Enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.db.models import AsyncJob
from altostratus.db.models.compute import VmState
from altostratus.db.models.hosts import ResourceState
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.infrastructure.hosts import ACTIVE_VM_STATES, get_host, host_event, vms_on
from altostratus.services.infrastructure.jobs import HostPayload, watch
from altostratus.services.shared import async_jobs

__all__ = ["PREPARE_MAINTENANCE", "Progress", "finish", "progress", "submit_stops"]


async def submit_stops(ctx: ServiceContext, host_uuid: str) -> list[str]:
    """One ``stopVirtualMachine`` job per VM Running on the host; their job ids."""
    host = await get_host(ctx, host_uuid)
    submitted = []
    for vm in await ctx.session.scalars(vms_on(host.id, (VmState.RUNNING,))):
        job = await async_jobs.submit(
            ctx,
            vm_jobs.STOP,
            vm_jobs.StopPayload(id=vm.uuid, forced=False),
            instance_type="VirtualMachine",
            instance_uuid=vm.uuid,
        )
        submitted.append(job.uuid)
    return submitted


@dataclass(frozen=True)
class Progress:
    resource_state: str
    #: VMs the hypervisor still holds.
    active_vms: int
    #: Stop jobs not finished yet.
    pending_jobs: int

    @property
    def cancelled(self) -> bool:
        return self.resource_state != ResourceState.PREPARE_FOR_MAINTENANCE

    @property
    def settled(self) -> bool:
        return self.active_vms == 0 or self.pending_jobs == 0


async def progress(ctx: ServiceContext, host_uuid: str, job_uuids: list[str]) -> Progress:
    host = await get_host(ctx, host_uuid)
    active = await ctx.session.scalar(
        select(func.count()).select_from(vms_on(host.id, ACTIVE_VM_STATES).subquery())
    )
    pending = await ctx.session.scalar(
        select(func.count()).where(
            AsyncJob.uuid.in_(job_uuids), AsyncJob.status == JobStatus.PENDING
        )
    )
    return Progress(host.resource_state, active or 0, pending or 0)


async def finish(ctx: ServiceContext, host_uuid: str) -> str:
    """Maintenance if the host holds no VM any more, else ErrorInMaintenance; which."""
    host = await get_host(ctx, host_uuid)
    if host.resource_state != ResourceState.PREPARE_FOR_MAINTENANCE:
        return str(host.resource_state)  # cancelled meanwhile
    active = await ctx.session.scalar(
        select(func.count()).select_from(vms_on(host.id, ACTIVE_VM_STATES).subquery())
    )
    host.resource_state = (
        ResourceState.ERROR_IN_MAINTENANCE if active else ResourceState.MAINTENANCE
    )
    await host_event(ctx, host, "MAINT.DONE", f"Host {host.name} is {host.resource_state}")
    return str(host.resource_state)


async def _prepare(run: JobRun, payload: HostPayload) -> str:
    host_uuid = payload.id
    stop_jobs = await run.step("stop", lambda ctx: submit_stops(ctx, host_uuid))
    run.deps.signals.jobs_submitted()

    async def settled(ctx: ServiceContext) -> bool:
        state = await progress(ctx, host_uuid, stop_jobs)
        return state.cancelled or state.settled

    within = 2 * run.deps.settings.agent_command_timeout + 10
    await watch(run, settled, within)
    outcome = await run.step("finish", lambda ctx: finish(ctx, host_uuid))
    if outcome == ResourceState.ERROR_IN_MAINTENANCE:
        raise ResourceUnavailable(
            "Some VMs of the host could not be stopped; it is ErrorInMaintenance"
        )
    return host_uuid


PREPARE_MAINTENANCE = JobKind(HostPayload, _prepare)
