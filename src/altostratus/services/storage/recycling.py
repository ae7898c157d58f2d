"""``destroyVolume`` and ``recoverVolume``: a data disk kept in ``Destroy`` until expunged.

CloudStack's rules: only a detached DATADISK is destroyed (the ROOT disk goes with its
VM); a destroyed disk counts against no limit, cannot be attached or resized, and is
recovered (``recoverVolume``) as it was, ``Ready`` if it has storage on a host, else
``Allocated``, provided the account's limits take it again. ``expunge=true`` deletes it
for good, as ``deleteVolume`` does, also a disk already destroyed.
"""

from __future__ import annotations

from altostratus.core.context import ServiceContext
from altostratus.db.models import Volume
from altostratus.db.models.compute import VolumeState, VolumeType
from altostratus.errors import ResourceInUse, invalid
from altostratus.services.shared import limits
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.storage.volumes import get_volume, retire_disk

__all__ = ["destroy_volume", "recover_volume"]


async def _event(ctx: ServiceContext, volume: Volume, event_type: str, text: str) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} volume {volume.name} ({volume.uuid})",
        resource_type="Volume",
        resource_uuid=volume.uuid,
        owner=volume.account,
    )


async def destroy_volume(ctx: ServiceContext, uuid: str, *, expunge: bool) -> Volume:
    volume = await get_volume(ctx, uuid)
    if volume.type == VolumeType.ROOT:
        raise invalid("id", "a ROOT volume goes with its VM (destroyVirtualMachine)", value=uuid)
    if volume.vm_id is not None:
        raise ResourceInUse(
            f"Volume {volume.name} is attached to a VM; detach it before destroying it"
        )
    if expunge:
        await retire_disk(ctx, volume)
        return volume
    if volume.state == VolumeState.DESTROY:
        raise invalid("id", f"volume {volume.name} is already destroyed", value=uuid)
    volume.state = VolumeState.DESTROY
    await ctx.session.flush()
    await _event(ctx, volume, "VOLUME.DESTROY", "Destroyed")
    return volume


async def recover_volume(ctx: ServiceContext, uuid: str) -> Volume:
    volume = await get_volume(ctx, uuid)
    if volume.state != VolumeState.DESTROY:
        raise invalid("id", f"volume {volume.name} is {volume.state}, not destroyed", value=uuid)
    await limits.check(
        ctx.session,
        volume.account_id,
        {ResourceType.VOLUME: 1, ResourceType.PRIMARY_STORAGE: volume.size},
    )
    volume.state = VolumeState.READY if volume.host_id is not None else VolumeState.ALLOCATED
    await ctx.session.flush()
    await _event(ctx, volume, "VOLUME.RECOVER", "Recovered")
    return volume
