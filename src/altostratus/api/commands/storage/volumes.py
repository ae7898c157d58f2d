"""Volumes: root and data disks.

``createVolume``, ``attachVolume``, ``detachVolume`` and ``resizeVolume`` are
asynchronous: the request checks everything (431, 531, 532) and the job
(``services.storage.jobs``) carries the change out, sending it to the host of a running
VM. Each job answers the volume.
Libcloud reads ``id``, ``name``, ``size``, ``state``, ``virtualmachineid`` (present
means attached), ``deviceid`` and ``type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from altostratus.api.commands.shared.tags import TagResponse, tag_view
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet, Job
from altostratus.api.ownership import OwnedListParams, OwnerParams
from altostratus.api.params import MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Volume
from altostratus.db.models.compute import VolumeType
from altostratus.services.compute import vms
from altostratus.services.shared import tags
from altostratus.services.shared.ownership import owner_account
from altostratus.services.storage import jobs as storage_jobs
from altostratus.services.storage import recycling, snapshots, volumes
from altostratus.timeutil import format_timestamp

__all__ = [
    "AttachVolumeParams",
    "CreateVolumeParams",
    "DestroyVolumeParams",
    "ListVolumesParams",
    "ResizeVolumeParams",
    "VolumeIdParams",
    "VolumeResponse",
    "attach_volume",
    "commands",
    "create_volume",
    "delete_volume",
    "destroy_volume",
    "detach_volume",
    "list_volumes",
    "recover_volume",
    "resize_volume",
    "volume_view",
]

commands = CommandSet()

#: CloudStack's resource type name of volumes (tags, events).
RESOURCE_TYPE = "Volume"
SizeGb = Annotated[int, Field(ge=1, le=1 << 20)]


class VolumeResponse(ResponseObject):
    id: str
    name: str
    zoneid: str
    zonename: str
    type: str
    deviceid: int | None = None
    virtualmachineid: str | None = None
    vmname: str | None = None
    vmdisplayname: str | None = None
    vmstate: str | None = None
    #: Bytes.
    size: int
    state: str
    created: str
    attached: str | None = None
    account: str
    domainid: str
    domain: str
    diskofferingid: str | None = None
    diskofferingname: str | None = None
    diskofferingdisplaytext: str | None = None
    storagetype: str
    hypervisor: str | None = None
    destroyed: bool = False
    tags: list[TagResponse] = Field(default_factory=list)


def volume_view(volume: Volume, volume_tags: Sequence[TagResponse] = ()) -> VolumeResponse:
    vm, offering = volume.vm, volume.disk_offering
    hypervisor = None
    if vm is not None:
        hypervisor = vm.host.hypervisor if vm.host else vm.template.hypervisor
    return VolumeResponse(
        id=volume.uuid,
        name=volume.name,
        zoneid=volume.zone.uuid,
        zonename=volume.zone.name,
        type=volume.type,
        deviceid=volume.device_id if vm is not None else None,
        virtualmachineid=vm.uuid if vm else None,
        vmname=vm.name if vm else None,
        vmdisplayname=vm.display_name if vm else None,
        vmstate=vm.state if vm else None,
        size=volume.size,
        state=volume.state,
        created=format_timestamp(volume.created),
        attached=format_timestamp(volume.attached) if vm and volume.attached else None,
        account=volume.account.name,
        domainid=volume.domain.uuid,
        domain=volume.domain.name,
        diskofferingid=offering.uuid if offering else None,
        diskofferingname=offering.name if offering else None,
        diskofferingdisplaytext=offering.display_text if offering else None,
        storagetype=offering.storage_type if offering else "shared",
        hypervisor=hypervisor,
        tags=list(volume_tags),
    )


async def _answer(ctx: ServiceContext, uuid: str) -> Single:
    """The volume as the job leaves it (and as ``listVolumes`` shows it)."""
    volume = await volumes.load_volume(ctx, uuid)
    found = await tags.tags_of(ctx.session, RESOURCE_TYPE, [uuid])
    return Single("volume", volume_view(volume, [tag_view(tag) for tag in found[uuid]]))


def _submitted(payload: storage_jobs.VolumePayload) -> Submitted:
    return Submitted(payload, instance_type=RESOURCE_TYPE, instance_uuid=payload.id)


# --- create ---


class CreateVolumeParams(OwnerParams):
    name: str | None = Field(None, max_length=255, description="Name (default: DATA-<number>)")
    zoneid: Uuid | None = Field(None, description="Zone of the volume; required unless snapshotid")
    diskofferingid: Uuid | None = Field(
        None, description="Disk offering; required unless snapshotid"
    )
    size: SizeGb | None = Field(None, description="Size in GB, for a custom-size disk offering")
    snapshotid: Uuid | None = Field(None, description="Create the volume from this snapshot")


@commands.command(
    "createVolume",
    CreateVolumeParams,
    description="Creates a data disk from a disk offering or a snapshot",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    related=("listVolumes", "attachVolume"),
    job=Job(storage_jobs.CREATE_VOLUME, _answer),
)
async def create_volume(ctx: ServiceContext, p: CreateVolumeParams) -> Submitted:
    owner = await owner_account(ctx, p.account, p.domainid, p.projectid)
    snapshot = (
        await snapshots.get_snapshot(ctx, p.snapshotid, "snapshotid") if p.snapshotid else None
    )
    volume = await volumes.create_volume(
        ctx,
        name=p.name,
        zone_uuid=p.zoneid,
        disk_offering_uuid=p.diskofferingid,
        size_gb=p.size,
        snapshot=snapshot,
        owner=owner,
    )
    return _submitted(storage_jobs.VolumePayload(id=volume.uuid))


# --- attach and detach ---


class AttachVolumeParams(Params):
    id: Uuid = Field(description="The volume to attach")
    virtualmachineid: Uuid = Field(description="The VM (Running or Stopped) to attach it to")
    deviceid: int | None = Field(
        None, ge=0, description="Disk slot on the VM, 1 to 15 but not 3 (default: the first free)"
    )


@commands.command(
    "attachVolume",
    AttachVolumeParams,
    description="Attaches a data disk to a VM of the same account and zone",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    related=("detachVolume", "listVolumes"),
    job=Job(storage_jobs.ATTACH_VOLUME, _answer),
)
async def attach_volume(ctx: ServiceContext, p: AttachVolumeParams) -> Submitted:
    vm = await vms.get_vm(ctx, p.virtualmachineid, "virtualmachineid")
    volume = await volumes.claim_attachment(ctx, p.id, vm, p.deviceid)
    return _submitted(storage_jobs.VolumePayload(id=volume.uuid))


class VolumeIdParams(Params):
    id: Uuid = Field(description="The volume")


@commands.command(
    "detachVolume",
    VolumeIdParams,
    description="Detaches a data disk from its VM",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    related=("attachVolume", "listVolumes"),
    job=Job(storage_jobs.DETACH_VOLUME, _answer),
)
async def detach_volume(ctx: ServiceContext, p: VolumeIdParams) -> Submitted:
    volume = await volumes.check_detach(ctx, p.id)
    return _submitted(storage_jobs.VolumePayload(id=volume.uuid))


# --- resize and delete ---


class ResizeVolumeParams(Params):
    id: Uuid = Field(description="The volume to resize")
    size: SizeGb | None = Field(None, description="New size in GB (custom-size offerings)")
    diskofferingid: Uuid | None = Field(None, description="New disk offering")
    shrinkok: bool = Field(False, description="Allow the volume to become smaller")


@commands.command(
    "resizeVolume",
    ResizeVolumeParams,
    description="Changes the size of a volume, growing it unless shrinkok is given",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    related=("listVolumes",),
    job=Job(storage_jobs.RESIZE_VOLUME, _answer),
)
async def resize_volume(ctx: ServiceContext, p: ResizeVolumeParams) -> Submitted:
    volume, size, offering = await volumes.check_resize(
        ctx, p.id, disk_offering_uuid=p.diskofferingid, size_gb=p.size, shrink_ok=p.shrinkok
    )
    return _submitted(
        storage_jobs.ResizePayload(
            id=volume.uuid, size=size, offering_id=offering.id if offering else None
        )
    )


@commands.command(
    "deleteVolume",
    VolumeIdParams,
    description="Deletes a detached data disk",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_volume(ctx: ServiceContext, p: VolumeIdParams) -> Success:
    await volumes.delete_volume(ctx, p.id)
    return Success()


class DestroyVolumeParams(VolumeIdParams):
    expunge: bool = Field(False, description="Delete it for good instead of keeping it")


@commands.command(
    "destroyVolume",
    DestroyVolumeParams,
    description="Destroys a detached data disk; it may be recovered until expunged",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    is_async=True,
    related=("recoverVolume",),
)
async def destroy_volume(ctx: ServiceContext, p: DestroyVolumeParams) -> Single:
    volume = await recycling.destroy_volume(ctx, p.id, expunge=p.expunge)
    return await _answer(ctx, volume.uuid)


@commands.command(
    "recoverVolume",
    VolumeIdParams,
    description="Recovers a destroyed data disk",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    related=("destroyVolume",),
)
async def recover_volume(ctx: ServiceContext, p: VolumeIdParams) -> Single:
    volume = await recycling.recover_volume(ctx, p.id)
    return await _answer(ctx, volume.uuid)


# --- listing ---


class ListVolumesParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the volume of this id")
    name: str | None = Field(None, max_length=255, description="List volumes of this name")
    virtualmachineid: Uuid | None = Field(None, description="List the volumes of this VM")
    type: VolumeType | None = Field(None, description="ROOT or DATADISK")
    zoneid: Uuid | None = Field(None, description="List the volumes of this zone")
    tags: MapParam | None = Field(None, description="List volumes with these tags (key, value)")


@commands.command(
    "listVolumes",
    ListVolumesParams,
    description="Lists volumes",
    allowed=ANYONE,
    response=("volume", VolumeResponse),
    writes=False,
)
async def list_volumes(ctx: ServiceContext, p: ListVolumesParams) -> ListResult:
    page = await volumes.list_volumes(
        ctx,
        uuid=p.id,
        name=p.name,
        vm_uuid=p.virtualmachineid,
        volume_type=p.type,
        zone_uuid=p.zoneid,
        keyword=p.keyword,
        tags=p.tags,
        owner=p.scope(),
        page=page_request(ctx, p),
    )
    found = await tags.tags_of(ctx.session, RESOURCE_TYPE, [v.uuid for v in page.items])
    return ListResult(
        "volume",
        [volume_view(v, [tag_view(t) for t in found[v.uuid]]) for v in page.items],
        page.total,
    )
