"""The VM snapshot jobs: ask the host holding the snapshot, then record what it did.

Each is one host command and one step; a refused command records the failure
(``vm_snapshots.failed``) before the job fails. Deleting a snapshot whose host is gone
only forgets it: the snapshot went with the host.
"""

from __future__ import annotations

from altostratus.agent.protocol import CommandKind
from altostratus.errors import ResourceUnavailable
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import AgentCommandFailed, JobRun
from altostratus.services.compute import vm_snapshots

__all__ = ["CREATE", "DELETE", "REVERT", "VmSnapshotPayload"]

_HOST_FAILURES = (AgentCommandFailed, ResourceUnavailable)


class VmSnapshotPayload(JobPayload):
    #: The VM snapshot's uuid.
    id: str


async def _ask_host(run: JobRun, uuid: str, kind: CommandKind) -> bool:
    """Send ``kind`` for the snapshot; False: no host holds it any more."""
    host_id, command = await run.read(lambda ctx: vm_snapshots.command_for(ctx, uuid))
    if host_id is None:
        return False
    try:
        await run.host_command(kind.value, host_id, kind, command)
    except _HOST_FAILURES as error:
        reason = error.text
        await run.step("failed", lambda ctx: vm_snapshots.failed(ctx, uuid, reason))
        raise
    return True


async def _create(run: JobRun, payload: VmSnapshotPayload) -> str:
    await _ask_host(run, payload.id, CommandKind.CREATE_VM_SNAPSHOT)
    await run.step("ready", lambda ctx: vm_snapshots.finished(ctx, payload.id))
    return payload.id


async def _revert(run: JobRun, payload: VmSnapshotPayload) -> str:
    """Answers the VM's snapshot; the command's presenter shows the VM."""
    await _ask_host(run, payload.id, CommandKind.REVERT_VM_SNAPSHOT)
    await run.step("reverted", lambda ctx: vm_snapshots.finished(ctx, payload.id))
    return payload.id


async def _delete(run: JobRun, payload: VmSnapshotPayload) -> None:
    await _ask_host(run, payload.id, CommandKind.DELETE_VM_SNAPSHOT)
    await run.step("deleted", lambda ctx: vm_snapshots.removed(ctx, payload.id))


CREATE = JobKind(VmSnapshotPayload, _create)
REVERT = JobKind(VmSnapshotPayload, _revert)
DELETE = JobKind(VmSnapshotPayload, _delete)
