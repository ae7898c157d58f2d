"""Volumes: data disks users create, attach, detach, resize and delete.

A VM's ROOT volume is made at deploy by the VM service; every volume command is here.
The rules are CloudStack's: a volume and the VM it is attached to belong to the same
account and zone, the ROOT disk is never detached or deleted on its own, and a volume
is deleted only once detached. Changes that a running VM must see go to its host's
agent (``agent.protocol.VolumeCommand``); the job bodies in ``api.commands.volumes``
send them, and these functions say what to send and record the outcome.

Attaching claims the slot on the VM in the request's transaction with one conditional
``UPDATE`` (the volume still detached, no live volume in the slot), after locking the
VM's row on PostgreSQL so attachments to one VM queue; so two concurrent attachments of
one volume (or into one slot) cannot both be accepted, the loser gets a 431. A failed
host command gives the slot back (``release_claim``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, true, update
from sqlalchemy.orm import aliased, joinedload

from altostratus.agent.protocol import CommandKind, VolumeCommand, VolumeSpec
from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import (
    Account,
    DiskOffering,
    Host,
    HostCommand,
    ResourceTag,
    Snapshot,
    VirtualMachine,
    Volume,
    Zone,
)
from altostratus.db.models.compute import VmState, VolumeState, VolumeType
from altostratus.db.rows import rowcount
from altostratus.errors import ResourceInUse, invalid
from altostratus.services.catalog.offerings import get_disk_offering
from altostratus.services.shared import limits, tags
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import (
    OwnerScope,
    find_visible,
    listed_owners,
    with_owner_joins,
)
from altostratus.timeutil import utcnow

__all__ = [
    "GIB",
    "HostCall",
    "check_detach",
    "check_resize",
    "claim_attachment",
    "create_volume",
    "delete_volume",
    "finish_attach",
    "finish_detach",
    "finish_resize",
    "get_volume",
    "host_holding",
    "list_volumes",
    "load_volume",
    "plug_call",
    "release_claim",
    "resize_call",
    "retire_disk",
    "tagged",
]

GIB = 1024**3
#: Data disk slots; 3 is the CD-ROM's on KVM, as in CloudStack.
_DEVICE_IDS = [device for device in range(1, 16) if device != 3]
#: VM states in which disks may be attached or detached.
_VM_STATES_FOR_DISKS = (VmState.RUNNING, VmState.STOPPED)


# --- visibility, shared by the catalog's tenant resources ---


def tagged(
    resource_type: str, uuid_column: Any, tags: list[dict[str, str]] | None
) -> ColumnElement[bool]:
    """Rows carrying every ``tags[i].key=value`` given (CloudStack's ``tags`` filter)."""
    matches = (
        exists(
            select(ResourceTag.id).where(
                ResourceTag.resource_type == resource_type,
                ResourceTag.resource_uuid == uuid_column,
                equal_if_given(
                    (ResourceTag.key, tag.get("key")), (ResourceTag.value, tag.get("value"))
                ),
            )
        )
        for tag in tags or []
    )
    return and_(true(), *matches)


# --- look-ups ---


async def get_volume(ctx: ServiceContext, uuid: str, parameter: str = "id") -> Volume:
    """A volume the caller may see and act on (not deleted); else 431 naming ``parameter``."""
    return await find_visible(ctx, Volume, uuid, noun="volume", parameter=parameter)


async def load_volume(ctx: ServiceContext, uuid: str) -> Volume:
    """A volume by id with what its view shows, for a job that already checked access."""
    volume = await ctx.session.scalar(
        select(Volume)
        .where(Volume.uuid == uuid)
        .options(joinedload(Volume.vm).joinedload(VirtualMachine.host))
        .execution_options(populate_existing=True)
    )
    assert volume is not None, f"volume {uuid} vanished"
    return volume


async def _event(ctx: ServiceContext, volume: Volume, event_type: str, text: str) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} volume {volume.name} ({volume.uuid})",
        resource_type="Volume",
        resource_uuid=volume.uuid,
        owner=volume.account,
    )


# --- create and delete ---


def _gib(size_bytes: int) -> int:
    return -(-size_bytes // GIB)


def _size_from(offering: DiskOffering | None, size_gb: int | None) -> int:
    """The size (bytes) from a disk offering and ``size`` (GB, for custom or no offering)."""
    if offering is not None and not offering.is_customized:
        if size_gb is not None:
            raise invalid(
                "size",
                f"disk offering {offering.name} has a fixed size of {offering.disk_size_gb} GB",
            )
        assert offering.disk_size_gb is not None, "a fixed-size offering has a size"
        return offering.disk_size_gb * GIB
    if size_gb is None:
        what = f"the custom-size disk offering {offering.name}" if offering else "no disk offering"
        raise invalid("size", f"required (GB) with {what}")
    return size_gb * GIB


async def create_volume(
    ctx: ServiceContext,
    *,
    name: str | None,
    zone_uuid: str | None,
    disk_offering_uuid: str | None,
    size_gb: int | None,
    snapshot: Snapshot | None,
    owner: Account,
) -> Volume:
    """A new DATADISK, Allocated (its storage is made on first attach) or Ready (from a snapshot).

    ``snapshot`` (already checked by ``snapshots.get_snapshot``) gives the zone, size and
    default offering.
    """
    offering = (
        await get_disk_offering(ctx, disk_offering_uuid) if disk_offering_uuid is not None else None
    )
    if snapshot is not None:
        zone = snapshot.zone
        size = snapshot.volume.size
        offering = offering or snapshot.volume.disk_offering
    else:
        if zone_uuid is None:
            raise invalid("zoneid", "required unless snapshotid is given")
        if offering is None:
            raise invalid("diskofferingid", "required unless snapshotid is given")
        zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
        size = _size_from(offering, size_gb)
    await limits.check(
        ctx.session, owner.id, {ResourceType.VOLUME: 1, ResourceType.PRIMARY_STORAGE: size}
    )
    volume = Volume(
        name=name or "",
        account_id=owner.id,
        domain_id=owner.domain_id,
        zone_id=zone.id,
        type=VolumeType.DATADISK,
        size=size,
        disk_offering_id=offering.id if offering else None,
        state=VolumeState.READY if snapshot else VolumeState.ALLOCATED,
        path=snapshot.path if snapshot else None,
    )
    ctx.session.add(volume)
    await ctx.session.flush()
    volume.name = volume.name or f"DATA-{volume.id}"
    await ctx.session.refresh(volume, ["account", "domain", "zone", "disk_offering", "vm"])
    await _event(ctx, volume, "VOLUME.CREATE", "Created")
    return volume


async def delete_volume(ctx: ServiceContext, uuid: str) -> None:
    """Retire a detached data disk; its host (if it has storage there) deletes the file.

    A removed host gets no command: nothing would deliver it, and the file went with
    the host.
    """
    volume = await get_volume(ctx, uuid)
    if volume.type == VolumeType.ROOT:
        raise invalid("id", "a ROOT volume goes with its VM (destroyVirtualMachine)", value=uuid)
    if volume.vm_id is not None:
        raise ResourceInUse(
            f"Volume {volume.name} is attached to a VM; detach it before deleting it"
        )
    await retire_disk(ctx, volume)


async def retire_disk(ctx: ServiceContext, volume: Volume, *, with_vm: str | None = None) -> None:
    """Delete a data disk for good: its host (if it has storage there) deletes the file.

    ``deleteVolume`` retires a detached disk; ``destroyVirtualMachine volumeids=`` one
    still attached to the VM being destroyed (``with_vm`` names it in the event).
    """
    host_id = await _live_host(ctx, volume.host_id)
    if host_id is not None:
        spec = VolumeCommand(volume=_spec(volume))
        ctx.session.add(
            HostCommand(
                host_id=host_id,
                kind=CommandKind.DELETE_VOLUME,
                payload=spec.model_dump_json(),
            )
        )
    volume.vm_id, volume.device_id, volume.attached = None, None, None
    volume.state = VolumeState.EXPUNGED
    volume.removed = utcnow()
    await tags.delete_tags_of(ctx.session, "Volume", volume.uuid)
    suffix = f" with VM {with_vm}" if with_vm else ""
    await record_event(
        ctx,
        "VOLUME.DELETE",
        f"Deleted volume {volume.name} ({volume.uuid}){suffix}",
        resource_type="Volume",
        resource_uuid=volume.uuid,
        owner=volume.account,
    )


# --- attach, detach, resize: checked in the request, carried out by the job ---


@dataclass(frozen=True)
class HostCall:
    """A command for the host of a running VM (or of the volume's storage)."""

    host_id: int
    kind: str
    payload: dict[str, Any]


def _spec(volume: Volume, size: int | None = None) -> VolumeSpec:
    return VolumeSpec(uuid=volume.uuid, device_id=volume.device_id or 0, size=size or volume.size)


def _check_live(volume: Volume) -> None:
    """A destroyed disk (``destroyVolume``) is neither attached nor resized until recovered."""
    if volume.state == VolumeState.DESTROY:
        raise invalid(
            "id", f"volume {volume.name} is destroyed; recover it first", value=volume.uuid
        )


def _check_vm_state(vm: VirtualMachine) -> None:
    if vm.state not in _VM_STATES_FOR_DISKS:
        raise invalid(
            "virtualmachineid",
            f"VM {vm.name} is {vm.state}; "
            "disks are attached to and detached from Running or Stopped VMs only",
            value=vm.uuid,
        )


async def claim_attachment(
    ctx: ServiceContext, uuid: str, vm: VirtualMachine, device_id: int | None
) -> Volume:
    """Check an attachment to ``vm`` (visible to the caller) and take its slot for the volume."""
    volume = await get_volume(ctx, uuid)
    _check_vm_state(vm)
    _check_live(volume)
    vm_uuid = vm.uuid
    if volume.type == VolumeType.ROOT:
        raise invalid("id", "a ROOT volume cannot be attached", value=uuid)
    if volume.vm_id is not None:
        raise invalid(
            "id",
            f"volume {volume.name} is already attached to "
            f"VM {volume.vm.name if volume.vm else volume.vm_id}",
            value=uuid,
        )
    if volume.zone_id != vm.zone_id:
        raise invalid(
            "virtualmachineid",
            f"the VM is in zone {vm.zone.name}, the volume in zone {volume.zone.name}",
            value=vm_uuid,
        )
    if volume.account_id != vm.account_id:
        raise invalid(
            "virtualmachineid", "the VM and the volume belong to different accounts", value=vm_uuid
        )
    # Serialise attachments to this VM: on PostgreSQL a second request waits here until
    # the first commits, then reads the slots it took. SQLite ignores the clause; its
    # write transactions run one at a time anyway.
    await ctx.session.execute(
        select(VirtualMachine.id).where(VirtualMachine.id == vm.id).with_for_update()
    )
    used = set(
        await ctx.session.scalars(
            select(Volume.device_id).where(Volume.vm_id == vm.id, Volume.removed.is_(None))
        )
    )
    if device_id is None:
        free = [device for device in _DEVICE_IDS if device not in used]
        if not free:
            raise invalid("virtualmachineid", f"VM {vm.name} has no free disk slot", value=vm_uuid)
        device_id = free[0]
    elif device_id not in _DEVICE_IDS or device_id in used:
        raise invalid(
            "deviceid",
            "the slot is taken" if device_id in used else "must be 1 to 15, but not 3",
            value=device_id,
        )
    await _take_slot(ctx, volume, vm, device_id)
    return volume


async def _take_slot(
    ctx: ServiceContext, volume: Volume, vm: VirtualMachine, device_id: int
) -> None:
    """Attach ``volume`` to ``vm`` at ``device_id`` if both are still free, in one UPDATE.

    The checks above read rows a concurrent request may change before this one writes;
    the conditions here are re-evaluated on the row as it is when written, so of two
    attachments of one volume (or into one slot) only one is accepted.
    """
    holder = aliased(Volume)
    slot_taken = exists(
        select(holder.id).where(
            holder.vm_id == vm.id, holder.device_id == device_id, holder.removed.is_(None)
        )
    )
    taken = await ctx.session.execute(
        update(Volume)
        .where(
            Volume.id == volume.id,
            Volume.vm_id.is_(None),
            Volume.removed.is_(None),
            ~slot_taken,
        )
        .values(vm_id=vm.id, device_id=device_id)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(taken):
        raise invalid(
            "id",
            f"volume {volume.name} is already attached, or slot {device_id} of VM {vm.name} "
            "was just taken",
            value=volume.uuid,
        )
    await ctx.session.refresh(volume, ["vm_id", "device_id"])


def _running_host(vm: VirtualMachine | None) -> int | None:
    if vm is not None and vm.state == VmState.RUNNING and vm.host_id is not None:
        return vm.host_id
    return None


async def _live_host(ctx: ServiceContext, host_id: int | None) -> int | None:
    """``host_id`` if that host still exists; ``None`` for no host or a removed one.

    Commands for a removed host are never delivered (they would stay Pending, or time
    out the job that waits for them), so such a host means nothing to do on a host.
    """
    if host_id is None:
        return None
    return await ctx.session.scalar(
        select(Host.id).where(Host.id == host_id, Host.removed.is_(None))
    )


async def host_holding(ctx: ServiceContext, volume: Volume) -> int | None:
    """The live host holding the volume's data: its running VM's, else its storage's.

    Shared by resizing and snapshots, which both act where the data is.
    """
    return await _live_host(ctx, _running_host(volume.vm) or volume.host_id)


async def plug_call(ctx: ServiceContext, uuid: str, kind: CommandKind) -> HostCall | None:
    """The attach or detach command (``kind``) for the VM's host, when the VM runs there:
    a stopped VM only has its definition changed, at its next start."""
    volume = await load_volume(ctx, uuid)
    vm = volume.vm
    host_id = _running_host(vm)
    if host_id is None or vm is None:
        return None
    command = VolumeCommand(volume=_spec(volume), instance_name=vm.instance_name)
    return HostCall(host_id, kind, command.model_dump())


async def finish_attach(ctx: ServiceContext, uuid: str, host_id: int | None) -> str:
    volume = await load_volume(ctx, uuid)
    volume.attached = utcnow()
    if host_id is not None:
        volume.state, volume.host_id = VolumeState.READY, host_id
    vm_name = volume.vm.name if volume.vm else "?"
    await _event(ctx, volume, "VOLUME.ATTACH", f"Attached to VM {vm_name}:")
    return volume.uuid


async def release_claim(ctx: ServiceContext, uuid: str) -> str:
    """Give the slot back after the host refused the attachment."""
    volume = await load_volume(ctx, uuid)
    volume.vm_id, volume.device_id = None, None
    return volume.uuid


async def check_detach(ctx: ServiceContext, uuid: str) -> Volume:
    volume = await get_volume(ctx, uuid)
    if volume.type == VolumeType.ROOT:
        raise invalid("id", "the ROOT volume cannot be detached", value=uuid)
    if volume.vm is None:
        raise invalid("id", f"volume {volume.name} is not attached", value=uuid)
    _check_vm_state(volume.vm)
    return volume


async def finish_detach(ctx: ServiceContext, uuid: str) -> str:
    volume = await load_volume(ctx, uuid)
    if volume.vm is not None:
        vm_name = volume.vm.name
        volume.vm_id, volume.device_id, volume.attached = None, None, None
        await _event(ctx, volume, "VOLUME.DETACH", f"Detached from VM {vm_name}:")
    return volume.uuid


async def check_resize(
    ctx: ServiceContext,
    uuid: str,
    *,
    disk_offering_uuid: str | None,
    size_gb: int | None,
    shrink_ok: bool,
) -> tuple[Volume, int, DiskOffering | None]:
    """The volume, its new size in bytes and its new offering (``None``: unchanged)."""
    volume = await get_volume(ctx, uuid)
    _check_live(volume)
    offering = (
        await get_disk_offering(ctx, disk_offering_uuid) if disk_offering_uuid is not None else None
    )
    current = offering or volume.disk_offering
    if current is not None and not current.is_customized and offering is None:
        raise invalid(
            "size",
            f"volume {volume.name} has the fixed-size disk offering {current.name}; "
            "give a new diskofferingid",
        )
    new_size = _size_from(current, size_gb)
    if new_size < volume.size and not shrink_ok:
        raise invalid(
            "size",
            f"smaller than the volume's {_gib(volume.size)} GB; pass shrinkok=true to shrink it",
            value=str(size_gb),
        )
    if new_size > volume.size:
        await limits.check(
            ctx.session,
            volume.account_id,
            {ResourceType.PRIMARY_STORAGE: new_size - volume.size},
        )
    return volume, new_size, offering


async def resize_call(ctx: ServiceContext, uuid: str, size: int) -> HostCall | None:
    """ResizeVolume for the host that holds the volume's storage, if any."""
    volume = await load_volume(ctx, uuid)
    host_id = await host_holding(ctx, volume)
    if host_id is None:
        return None
    instance = volume.vm.instance_name if volume.vm else None
    command = VolumeCommand(volume=_spec(volume, size), instance_name=instance)
    return HostCall(host_id, CommandKind.RESIZE_VOLUME, command.model_dump())


async def finish_resize(ctx: ServiceContext, uuid: str, size: int, offering_id: int | None) -> str:
    volume = await load_volume(ctx, uuid)
    old = volume.size
    volume.size = size
    if offering_id is not None:
        volume.disk_offering_id = offering_id
    await _event(ctx, volume, "VOLUME.RESIZE", f"Resized from {_gib(old)} GB to {_gib(size)} GB:")
    return volume.uuid


# --- listing ---


async def list_volumes(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    name: str | None,
    vm_uuid: str | None,
    volume_type: str | None,
    zone_uuid: str | None,
    keyword: str | None,
    tags: list[dict[str, str]] | None,
    owner: OwnerScope,
    page: PageRequest,
) -> Page[Volume]:
    """Volumes of the listing's owners; an ``id`` is looked up among all the caller sees."""
    query = with_owner_joins(Volume).where(
        Volume.removed.is_(None),
        await listed_owners(ctx, replace(owner, listall=owner.listall or uuid is not None)),
        equal_if_given((Volume.uuid, uuid), (Volume.name, name), (Volume.type, volume_type)),
        keyword_filter(keyword, Volume.name),
        tagged("Volume", Volume.uuid, tags),
    )
    if vm_uuid is not None:
        query = query.where(
            Volume.vm_id.in_(select(VirtualMachine.id).where(VirtualMachine.uuid == vm_uuid))
        )
    if zone_uuid is not None:
        query = query.where(Volume.zone_id.in_(select(Zone.id).where(Zone.uuid == zone_uuid)))
    return await paginate(ctx.session, query.order_by(Volume.id), page)
