"""The VM jobs: straight-line drivers of ``compute.lifecycle``'s steps and the agents' commands.

Each side effect is a named ``run.step`` or ``run.host_command``, so a job resumed by
another server after a crash skips what was done and waits for the command it already
queued. When a host command fails, a compensating step puts the VM (and the capacity it
holds) back in a consistent state before the error fails the job. Each body returns the
uuid of the VM it leaves behind (expunge: nothing), for the command's answer.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from altostratus.agent.protocol import (
    LEASE_HELD,
    CommandKind,
    DestroyVm,
    RebootVm,
    ScaleVm,
    StopVm,
)
from altostratus.core.context import ServiceContext
from altostratus.db.failover import resumable
from altostratus.db.models import Host, Volume
from altostratus.db.models.compute import VmState, VolumeType
from altostratus.errors import CloudError, InvalidParameter, ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import AgentCommandFailed, JobRun, LeaseLost
from altostratus.services.compute import lifecycle, migration, scaling
from altostratus.services.compute.vms import vm_by_uuid

__all__ = [
    "DEPLOY",
    "DESTROY",
    "EXPUNGE",
    "MIGRATE",
    "REBOOT",
    "RESET_SSH_KEY",
    "SCALE",
    "START",
    "STOP",
    "DeployPayload",
    "DestroyPayload",
    "MigratePayload",
    "ResetSshKeyPayload",
    "ScalePayload",
    "StartPayload",
    "StopPayload",
    "VmPayload",
]

#: Seconds between HA restarts refused by a disk lease: a fraction of a lease's life.
_LEASE_RETRY_SECONDS = 1.0

#: What a host command may fail with: the agent's error, or no answer in time.
_HOST_FAILURES = (AgentCommandFailed, ResourceUnavailable)


class VmPayload(JobPayload):
    #: The VM's uuid.
    id: str


class DeployPayload(VmPayload):
    start: bool
    #: The host an admin pinned the VM to (``hostid``).
    host_id: int | None


class StartPayload(VmPayload):
    #: The host an admin chose (``hostid``).
    host_id: int | None
    #: Submitted by host HA for a VM of a fenced host: a start refused because the dead
    #: host's disk lease has not run out yet is tried again (``ha_restart_attempts``).
    ha: bool = False


class StopPayload(VmPayload):
    forced: bool
    #: The request moved the VM to Stopping, so this job owns the stop; host
    #: maintenance's jobs find it Running (and were stored without this field).
    requested: bool = False


class DestroyPayload(VmPayload):
    expunge: bool
    #: Data disks of the VM to delete with it (``volumeids``; stored without it before).
    volume_ids: tuple[str, ...] = ()


class ResetSshKeyPayload(VmPayload):
    keypair: str


class MigratePayload(VmPayload):
    move: migration.Move


class ScalePayload(VmPayload):
    #: The running VM's resizing the request recorded (``None``: it was Stopped, and
    #: the request changed its offering: nothing for a host to do).
    resize: scaling.Resize | None


async def _start_vm(
    run: JobRun,
    vm_uuid: str,
    *,
    pinned_host_id: int | None,
    failure_state: str,
    attempt: int = 0,
) -> None:
    """Place a Starting VM and start it there; on failure it ends ``failure_state``.

    ``attempt`` numbers the steps of a start tried again, so each try is recorded apart.

    Any failure compensates, not only a CloudError: an unexpected error (a bug, a
    DataError) after ``place`` reserved capacity would otherwise leave the VM Starting
    for ever, holding capacity, and impossible to destroy. Errors after which the job
    goes on (``_resumed_later``) are the exception.
    """
    suffix = f" #{attempt}" if attempt else ""
    try:
        placed = await run.step(
            f"place{suffix}",
            lambda ctx: lifecycle.place(ctx, vm_uuid, pinned_host_id),
            result_type=lifecycle.Placed,
        )
    except Exception as error:
        if _resumed_later(error):
            raise
        reason = _reason(error)
        await run.step(
            f"not placed{suffix}",
            lambda ctx: lifecycle.start_failed(ctx, vm_uuid, None, failure_state, reason),
        )
        raise
    host_id = placed.host_id
    try:
        await run.host_command(
            f"start{suffix}", host_id, CommandKind.START_VM, placed.command.model_dump(mode="json")
        )
        await run.step(
            f"started{suffix}", lambda ctx: lifecycle.mark_running(ctx, vm_uuid, host_id)
        )
    except Exception as error:
        if _resumed_later(error):
            raise
        reason = _reason(error)
        await run.step(
            f"start failed{suffix}",
            lambda ctx: lifecycle.start_failed(ctx, vm_uuid, host_id, failure_state, reason),
        )
        raise


def _resumed_later(error: Exception) -> bool:
    """Whether the job goes on after ``error``, so compensating now would be wrong.

    ``LeaseLost``: another server owns the job now. A transient database error (a
    deadlock, a lost connection, a commit of unknown outcome): the executor resumes the
    job from its last step.
    """
    return isinstance(error, LeaseLost) or resumable(error)


def _reason(error: Exception) -> str:
    """What the VM's event says went wrong: the cloud's text, or the unexpected error."""
    if isinstance(error, CloudError):
        return error.text
    return f"internal error ({type(error).__name__})"


async def _stop_vm(run: JobRun, vm_uuid: str, *, forced: bool, requested: bool) -> None:
    """Stop the VM on its host; ``forced`` marks it Stopped even if the agent fails.

    ``requested``: the job's request moved the VM to Stopping (stopVirtualMachine,
    destroyVirtualMachine), so this job owns the stop; host maintenance's jobs do not
    say so. A job that does not own the stop leaves the VM alone when its agent fails.
    """
    stopping = await run.step(
        "stopping",
        lambda ctx: lifecycle.to_stopping(ctx, vm_uuid, requested),
        result_type=lifecycle.Stopping,
    )
    if stopping is None:
        return
    host_id = stopping.host_id
    instance_name = await run.read(lambda ctx: _instance_name(ctx, vm_uuid))
    command = StopVm(instance_name=instance_name, forced=forced)
    try:
        await run.host_command("stop", host_id, CommandKind.STOP_VM, command.model_dump())
    except _HOST_FAILURES as error:
        reason = error.text
        if not forced:
            if stopping.owned:
                await run.step(
                    "stop failed", lambda ctx: lifecycle.stop_failed(ctx, vm_uuid, reason)
                )
            raise
    await run.step("stopped", lambda ctx: lifecycle.mark_stopped(ctx, vm_uuid, host_id))


async def _expunge_vm(run: JobRun, vm_uuid: str) -> None:
    """Delete the VM and its root disk on the host it last ran on, then free its rows."""
    target = await run.read(lambda ctx: _expunge_target(ctx, vm_uuid))
    if target is not None:
        host_id, command = target
        try:
            await run.host_command("expunge", host_id, CommandKind.DESTROY_VM, command)
        except _HOST_FAILURES as error:
            reason = error.text
            await run.step(
                "expunge failed", lambda ctx: lifecycle.expunge_failed(ctx, vm_uuid, reason)
            )
            raise
    await run.step("expunged", lambda ctx: lifecycle.mark_expunged(ctx, vm_uuid))


# --- the bodies of the VM commands' jobs ---


async def _deploy(run: JobRun, payload: DeployPayload) -> str:
    if payload.start:
        await _start_vm(
            run, payload.id, pinned_host_id=payload.host_id, failure_state=VmState.ERROR
        )
    return payload.id


async def _start(run: JobRun, payload: StartPayload) -> str:
    attempts = run.deps.settings.ha_restart_attempts if payload.ha else 1
    for attempt in range(attempts):
        try:
            await _start_vm(
                run,
                payload.id,
                pinned_host_id=payload.host_id,
                failure_state=VmState.STOPPED,
                attempt=attempt,
            )
            return payload.id
        except AgentCommandFailed as error:
            if attempt + 1 == attempts or LEASE_HELD not in error.text:
                raise
        await asyncio.sleep(_LEASE_RETRY_SECONDS)
        await run.step(
            f"start again #{attempt + 1}",
            lambda ctx: lifecycle.start_again(ctx, payload.id),
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _stop(run: JobRun, payload: StopPayload) -> str:
    """Also run for host maintenance, which submits it for Running VMs directly."""
    await _stop_vm(run, payload.id, forced=payload.forced, requested=payload.requested)
    return payload.id


async def _reboot(run: JobRun, payload: VmPayload) -> str:
    vm_uuid = payload.id
    host_id = await run.read(lambda ctx: _running_host(ctx, vm_uuid))
    instance_name = await run.read(lambda ctx: _instance_name(ctx, vm_uuid))
    command = RebootVm(instance_name=instance_name)
    await run.host_command("reboot", host_id, CommandKind.REBOOT_VM, command.model_dump())
    await run.step("rebooted", lambda ctx: _record_reboot(ctx, vm_uuid))
    return vm_uuid


async def _destroy(run: JobRun, payload: DestroyPayload) -> str:
    """Stop the VM if it runs, destroy it (and the data disks named), expunge it if asked.

    A VM the request found Destroyed and moved to Expunging is only expunged.
    """
    vm_uuid, expunge = payload.id, payload.expunge
    await _stop_vm(run, vm_uuid, forced=False, requested=True)
    await run.step("destroyed", lambda ctx: lifecycle.mark_destroyed(ctx, vm_uuid, expunge))
    if payload.volume_ids:
        volume_ids = list(payload.volume_ids)
        await run.step(
            "data disks", lambda ctx: lifecycle.destroy_data_disks(ctx, vm_uuid, volume_ids)
        )
    if expunge:
        await _expunge_vm(run, vm_uuid)
    return vm_uuid


async def _expunge(run: JobRun, payload: VmPayload) -> None:
    await _expunge_vm(run, payload.id)


async def _reset_ssh_key(run: JobRun, payload: ResetSshKeyPayload) -> str:
    vm_uuid, keypair = payload.id, payload.keypair
    await run.step("keypair", lambda ctx: lifecycle.reset_keypair(ctx, vm_uuid, keypair))
    return vm_uuid


async def _scale(run: JobRun, payload: ScalePayload) -> str:
    """Apply a running VM's new size on its host; on refusal, the old size comes back."""
    vm_uuid, resize = payload.id, payload.resize
    if resize is None:
        return vm_uuid
    instance_name = await run.read(lambda ctx: _instance_name(ctx, vm_uuid))
    new = resize.new
    command = ScaleVm(
        instance_name=instance_name,
        cpu_number=new.cpu_number,
        cpu_speed=new.cpu_speed,
        memory_mb=new.memory_mb,
    )
    try:
        await run.host_command("scale", resize.host_id, CommandKind.SCALE_VM, command.model_dump())
    except _HOST_FAILURES as error:
        reason = error.text
        await run.step("not scaled", lambda ctx: scaling.scale_failed(ctx, vm_uuid, resize, reason))
        raise
    return vm_uuid


async def _migrate(run: JobRun, payload: MigratePayload) -> str:
    """Start the VM on the target, remove it from the source (disks stay), then move it.

    A source that fails to remove it does not undo the move: the VM runs on the target
    now, and the source's next power report shows the leftover, which the job's error
    names. A target that fails to start it leaves the VM where it ran.
    """
    vm_uuid, move = payload.id, payload.move
    command = await run.read(lambda ctx: _start_on(ctx, vm_uuid, move.target_host_id))
    try:
        await run.host_command(
            "start on target", move.target_host_id, CommandKind.START_VM, command
        )
    except _HOST_FAILURES as error:
        reason = error.text
        await run.step(
            "not migrated", lambda ctx: migration.not_migrated(ctx, vm_uuid, move, reason)
        )
        raise
    instance_name = await run.read(lambda ctx: _instance_name(ctx, vm_uuid))
    leave = DestroyVm(instance_name=instance_name)
    try:
        await run.host_command(
            "remove from source", move.source_host_id, CommandKind.DESTROY_VM, leave.model_dump()
        )
    except _HOST_FAILURES:
        await run.step("migrated", lambda ctx: migration.migrated(ctx, vm_uuid, move))
        raise
    await run.step("migrated", lambda ctx: migration.migrated(ctx, vm_uuid, move))
    return vm_uuid


DEPLOY = JobKind(DeployPayload, _deploy)
START = JobKind(StartPayload, _start)
STOP = JobKind(StopPayload, _stop)
REBOOT = JobKind(VmPayload, _reboot)
DESTROY = JobKind(DestroyPayload, _destroy)
EXPUNGE = JobKind(VmPayload, _expunge)
RESET_SSH_KEY = JobKind(ResetSshKeyPayload, _reset_ssh_key)
SCALE = JobKind(ScalePayload, _scale)
MIGRATE = JobKind(MigratePayload, _migrate)


# --- reads for the drivers ---


async def _instance_name(ctx: ServiceContext, vm_uuid: str) -> str:
    return (await vm_by_uuid(ctx.session, vm_uuid)).instance_name


async def _start_on(ctx: ServiceContext, vm_uuid: str, host_id: int) -> dict[str, object]:
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    return (await lifecycle.start_command(ctx, vm, host_id)).model_dump(mode="json")


async def _running_host(ctx: ServiceContext, vm_uuid: str) -> int:
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    lifecycle.require_state(vm, (VmState.RUNNING,), "reboot")
    if vm.host_id is None:
        raise InvalidParameter(f"VM {vm.name} has no host to reboot on")
    return vm.host_id


async def _record_reboot(ctx: ServiceContext, vm_uuid: str) -> None:
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    await lifecycle.record_vm_event(ctx, vm, "VM.REBOOT", "Rebooted")


async def _expunge_target(
    ctx: ServiceContext, vm_uuid: str
) -> tuple[int, dict[str, object]] | None:
    """The host that holds the VM's disks and the DestroyVm for it.

    ``None``: nothing to delete on a host, because the VM was never placed or its last
    host was deleted (or is missing). Commands go only to live hosts, so queueing one
    for a removed host would time out, and the VM could never be expunged.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if vm.last_host_id is None:
        return None
    live_host = await ctx.session.scalar(
        select(Host.id).where(Host.id == vm.last_host_id, Host.removed.is_(None))
    )
    if live_host is None:
        return None
    roots = await ctx.session.scalars(
        select(Volume.uuid).where(
            Volume.vm_id == vm.id, Volume.type == VolumeType.ROOT, Volume.removed.is_(None)
        )
    )
    command = DestroyVm(instance_name=vm.instance_name, volume_uuids=list(roots))
    return vm.last_host_id, command.model_dump()
