"""The jobs of ``suspendProject`` and ``deleteProject``: a project's VMs stopped, or its
resources removed with it.

The requests check and move the project's state (``identity.projects``); these jobs then
do the VM work through the ordinary VM jobs, as ``compute.teardown`` does for accounts:

* suspending submits a ``stopVirtualMachine`` job for each running VM of the project
  and waits for them (a VM that would not stop leaves the job failed, the project
  suspended; calling ``activateProject`` and ``suspendProject`` again retries);
* deleting destroys and expunges the VMs, then removes what the project account owns,
  the project with its members, and the account (``teardown.remove_accounts``).
"""

from __future__ import annotations

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.db.models import AsyncJob, VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute import lifecycle, teardown
from altostratus.services.identity.projects import project_by_uuid, record_project_event
from altostratus.services.infrastructure.jobs import watch
from altostratus.services.shared import async_jobs

__all__ = ["DELETE_PROJECT", "SUSPEND_PROJECT", "ProjectPayload"]


class ProjectPayload(JobPayload):
    #: The project's uuid.
    id: str
    #: Its account's uuid (what owns the VMs).
    account: str


async def _submit_stops(ctx: ServiceContext, project_uuid: str) -> list[str]:
    """One ``stopVirtualMachine`` job per running VM of the project; their ids."""
    project = await project_by_uuid(ctx, project_uuid)
    submitted = []
    for vm in await ctx.session.scalars(
        select(VirtualMachine).where(
            VirtualMachine.account_id == project.account_id,
            VirtualMachine.removed.is_(None),
            VirtualMachine.state == VmState.RUNNING,
        )
    ):
        requested = await lifecycle.stop_on_request(ctx, vm)
        job = await async_jobs.submit(
            ctx,
            vm_jobs.STOP,
            vm_jobs.StopPayload(id=vm.uuid, forced=False, requested=requested),
            instance_type="VirtualMachine",
            instance_uuid=vm.uuid,
        )
        submitted.append(job.uuid)
    return submitted


async def _stops_done(ctx: ServiceContext, job_uuids: list[str]) -> bool:
    pending = await ctx.session.scalar(
        select(func.count()).where(
            AsyncJob.uuid.in_(job_uuids), AsyncJob.status == JobStatus.PENDING
        )
    )
    return not pending


async def _require_stopped(ctx: ServiceContext, project_uuid: str) -> str:
    project = await project_by_uuid(ctx, project_uuid)
    running = list(
        await ctx.session.scalars(
            select(VirtualMachine.name).where(
                VirtualMachine.account_id == project.account_id,
                VirtualMachine.removed.is_(None),
                VirtualMachine.state.in_((VmState.RUNNING, VmState.STOPPING)),
            )
        )
    )
    if running:
        raise ResourceUnavailable(
            f"Project {project.name} is suspended but these VMs did not stop: {', '.join(running)}"
        )
    return project.uuid


async def _suspend(run: JobRun, payload: ProjectPayload) -> str:
    stops = await run.step("stop", lambda ctx: _submit_stops(ctx, payload.id))
    run.deps.signals.jobs_submitted()
    within = 2 * run.deps.settings.agent_command_timeout + 10
    await watch(run, lambda ctx: _stops_done(ctx, stops), within)
    return await run.step("stopped", lambda ctx: _require_stopped(ctx, payload.id))


async def _remove(ctx: ServiceContext, payload: ProjectPayload) -> None:
    project = await project_by_uuid(ctx, payload.id)
    await record_project_event(ctx, "PROJECT.DELETE", f"Deleted project {project.name}", project)
    await teardown.remove_accounts(ctx, [payload.account])


async def _delete(run: JobRun, payload: ProjectPayload) -> None:
    await teardown.expunge_vms(run, [payload.account])
    await run.step("removed", lambda ctx: _remove(ctx, payload))


SUSPEND_PROJECT = JobKind(ProjectPayload, _suspend)
DELETE_PROJECT = JobKind(ProjectPayload, _delete)
