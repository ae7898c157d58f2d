"""What becomes of a fenced host's VMs: Stopped, and the HA-enabled ones started elsewhere.

Called by host HA once the host is proven off (``ha.hosts``), in the transaction that
records the host Recovering, so the VMs change and their restart jobs exist together or
not at all: a server that dies here leaves nothing half done, and one that resumes the
recovery finds the VMs already moved and submits nothing twice. The restarts are plain
``startVirtualMachine`` jobs (placement, capacity and affinity as for any start), marked
``ha`` so they wait out the fenced host's disk leases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.db.models import AsyncJob, Host, VirtualMachine
from altostratus.db.models.compute import PowerState, VmState
from altostratus.jobs.status import JobStatus
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute.lifecycle import lock_host, record_vm_event
from altostratus.services.compute.vms import cpu_mhz, update_if
from altostratus.services.infrastructure import reservations
from altostratus.services.shared import async_jobs
from altostratus.services.shared.async_jobs import result_of
from altostratus.timeutil import utcnow

__all__ = ["Evacuation", "RestartOutcome", "evacuate", "restart_outcome"]


@dataclass(frozen=True)
class Evacuation:
    #: The ``startVirtualMachine`` jobs restarting the HA-enabled VMs.
    restart_jobs: list[str] = field(default_factory=list)
    #: Names of the VMs left Stopped (not HA-enabled).
    stopped: list[str] = field(default_factory=list)


async def evacuate(ctx: ServiceContext, host_id: int) -> Evacuation:
    """Every VM Running on the fenced host: Stopped, capacity back; HA ones Starting again.

    VMs in a transition (Starting, Stopping…) belong to the job moving them, whose
    command to the dead host fails and settles them; they are left alone here.
    """
    await lock_host(ctx, host_id)
    host_name = await ctx.session.scalar(select(Host.name).where(Host.id == host_id))
    running = await ctx.session.scalars(
        select(VirtualMachine)
        .where(
            VirtualMachine.host_id == host_id,
            VirtualMachine.removed.is_(None),
            VirtualMachine.state == VmState.RUNNING,
        )
        .order_by(VirtualMachine.id)
    )
    restart_jobs: list[str] = []
    stopped: list[str] = []
    for vm in running.all():
        moved = await update_if(
            ctx.session,
            vm,
            (VirtualMachine.state == VmState.RUNNING, VirtualMachine.host_id == host_id),
            state=VmState.STARTING if vm.ha_enabled else VmState.STOPPED,
            host_id=None,
            last_host_id=host_id,
            power_state=PowerState.OFF,
            power_state_updated=utcnow(),
        )
        if not moved:
            continue
        await reservations.release(ctx.session, host_id, cpu_mhz(vm), vm.memory_mb)
        if not vm.ha_enabled:
            stopped.append(vm.name)
            await record_vm_event(
                ctx, vm, "VM.HA.STOPPED", f"Host {host_name} was fenced; left Stopped (no HA):"
            )
            continue
        await record_vm_event(
            ctx, vm, "VM.HA.RESTART", f"Host {host_name} was fenced; restarting elsewhere:"
        )
        job = await async_jobs.submit(
            ctx,
            vm_jobs.START,
            vm_jobs.StartPayload(id=vm.uuid, host_id=None, ha=True),
            instance_type="VirtualMachine",
            instance_uuid=vm.uuid,
        )
        restart_jobs.append(job.uuid)
    return Evacuation(restart_jobs, stopped)


@dataclass(frozen=True)
class RestartOutcome:
    pending: int
    #: ``(VM uuid, why)`` of each restart that failed (no host fits, …).
    failed: list[tuple[str, str]]


async def restart_outcome(ctx: ServiceContext, job_uuids: list[str]) -> RestartOutcome:
    """How an evacuation's restarts stand: how many still run, which failed and why."""
    jobs = (await ctx.session.scalars(select(AsyncJob).where(AsyncJob.uuid.in_(job_uuids)))).all()
    failed = [
        (job.instance_uuid or "", str((result_of(job) or {}).get("errortext", "failed")))
        for job in jobs
        if job.status == JobStatus.FAILED
    ]
    pending = sum(1 for job in jobs if job.status == JobStatus.PENDING)
    return RestartOutcome(pending, failed)
