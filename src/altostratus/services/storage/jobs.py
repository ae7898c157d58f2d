"""The volume and snapshot jobs: carry out what the request checked, on the data's host.

Each body plans the host's command in a recorded step (``None``: no host holds the data,
nothing to send), sends it once, then records the outcome; it returns the uuid of the
volume or snapshot it leaves behind (a deleted snapshot: nothing), for the answer.
"""

from __future__ import annotations

from typing import Any

from altostratus.agent.protocol import CommandKind
from altostratus.errors import CloudError
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.storage import snapshots, volumes
from altostratus.services.storage.volumes import HostCall

__all__ = [
    "ATTACH_VOLUME",
    "CREATE_SNAPSHOT",
    "CREATE_VOLUME",
    "DELETE_SNAPSHOT",
    "DETACH_VOLUME",
    "RESIZE_VOLUME",
    "ResizePayload",
    "SnapshotPayload",
    "VolumePayload",
]


class VolumePayload(JobPayload):
    #: The volume's uuid.
    id: str


class ResizePayload(VolumePayload):
    #: Bytes.
    size: int
    #: The new disk offering's id (``None``: unchanged).
    offering_id: int | None


class SnapshotPayload(JobPayload):
    #: The snapshot's uuid.
    id: str


async def _on_host(run: JobRun, name: str, call: HostCall | None) -> dict[str, Any]:
    """Send the planned call (``None``: nothing to send) and return the agent's answer."""
    if call is None:
        return {}
    return await run.host_command(name, call.host_id, call.kind, call.payload)


async def _create_volume(run: JobRun, payload: VolumePayload) -> str:
    """The row was made in the request; its storage is made when it is first attached."""
    return payload.id


async def _attach_volume(run: JobRun, payload: VolumePayload) -> str:
    uuid = payload.id
    call = await run.step(
        "plan",
        lambda ctx: volumes.plug_call(ctx, uuid, CommandKind.ATTACH_VOLUME),
        result_type=HostCall,
    )
    try:
        await _on_host(run, "attach", call)
    except CloudError:
        await run.step("release", lambda ctx: volumes.release_claim(ctx, uuid))
        raise
    host_id = call.host_id if call else None
    await run.step("attached", lambda ctx: volumes.finish_attach(ctx, uuid, host_id))
    return uuid


async def _detach_volume(run: JobRun, payload: VolumePayload) -> str:
    uuid = payload.id
    call = await run.step(
        "plan",
        lambda ctx: volumes.plug_call(ctx, uuid, CommandKind.DETACH_VOLUME),
        result_type=HostCall,
    )
    await _on_host(run, "detach", call)
    await run.step("detached", lambda ctx: volumes.finish_detach(ctx, uuid))
    return uuid


async def _resize_volume(run: JobRun, payload: ResizePayload) -> str:
    uuid, size, offering_id = payload.id, payload.size, payload.offering_id
    call = await run.step(
        "plan", lambda ctx: volumes.resize_call(ctx, uuid, size), result_type=HostCall
    )
    await _on_host(run, "resize", call)
    await run.step("resized", lambda ctx: volumes.finish_resize(ctx, uuid, size, offering_id))
    return uuid


async def _create_snapshot(run: JobRun, payload: SnapshotPayload) -> str:
    uuid = payload.id
    call = await run.step(
        "plan",
        lambda ctx: snapshots.snapshot_call(ctx, uuid, CommandKind.CREATE_SNAPSHOT),
        result_type=HostCall,
    )
    try:
        answer = await _on_host(run, "snapshot", call)
    except CloudError:
        await run.step("failed", lambda ctx: snapshots.fail_snapshot(ctx, uuid))
        raise
    await run.step("backed-up", lambda ctx: snapshots.finish_snapshot(ctx, uuid, answer))
    return uuid


async def _delete_snapshot(run: JobRun, payload: SnapshotPayload) -> None:
    uuid = payload.id
    call = await run.step(
        "plan",
        lambda ctx: snapshots.snapshot_call(ctx, uuid, CommandKind.DELETE_SNAPSHOT),
        result_type=HostCall,
    )
    await _on_host(run, "delete", call)
    await run.step("deleted", lambda ctx: snapshots.finish_delete(ctx, uuid))


CREATE_VOLUME = JobKind(VolumePayload, _create_volume)
ATTACH_VOLUME = JobKind(VolumePayload, _attach_volume)
DETACH_VOLUME = JobKind(VolumePayload, _detach_volume)
RESIZE_VOLUME = JobKind(ResizePayload, _resize_volume)
CREATE_SNAPSHOT = JobKind(SnapshotPayload, _create_snapshot)
DELETE_SNAPSHOT = JobKind(SnapshotPayload, _delete_snapshot)
