"""VM snapshots: ``createVMSnapshot``, ``listVMSnapshot``, ``revertToVMSnapshot``,
``deleteVMSnapshot`` (``services.compute.vm_snapshots``)."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.commands.compute.vms import VirtualMachineResponse, single_vm
from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.ownership import OwnedListParams
from altostratus.api.params import Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import VmSnapshot
from altostratus.db.models.compute import VmSnapshotState
from altostratus.services.compute import vm_snapshot_jobs, vm_snapshots
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateVmSnapshotParams",
    "ListVmSnapshotsParams",
    "VmSnapshotIdParams",
    "VmSnapshotResponse",
    "commands",
    "create_vm_snapshot",
    "delete_vm_snapshot",
    "list_vm_snapshots",
    "revert_to_vm_snapshot",
    "vm_snapshot_view",
]

commands = CommandSet()


class VmSnapshotResponse(ResponseObject):
    id: str
    name: str
    displayname: str
    description: str | None = None
    state: str
    type: str = Field(description="Disk, or DiskAndMemory")
    current: bool
    parent: str | None = None
    created: str
    zoneid: str
    zonename: str
    virtualmachineid: str
    virtualmachinename: str
    hypervisor: str
    account: str
    domainid: str
    domain: str


def vm_snapshot_view(snapshot: VmSnapshot) -> VmSnapshotResponse:
    vm = snapshot.vm
    return VmSnapshotResponse(
        id=snapshot.uuid,
        name=snapshot.name,
        displayname=snapshot.display_name,
        description=snapshot.description,
        state=snapshot.state,
        type="DiskAndMemory" if snapshot.memory else "Disk",
        current=snapshot.current,
        parent=snapshot.parent_uuid,
        created=format_timestamp(snapshot.created),
        zoneid=snapshot.zone.uuid,
        zonename=snapshot.zone.name,
        virtualmachineid=vm.uuid,
        virtualmachinename=vm.name,
        hypervisor=vm.host.hypervisor if vm.host else vm.template.hypervisor,
        account=snapshot.account.name,
        domainid=snapshot.domain.uuid,
        domain=snapshot.domain.name,
    )


async def _snapshot_answer(ctx: ServiceContext, uuid: str) -> Single:
    snapshot = await vm_snapshots.get_snapshot(ctx, uuid, "id")
    return Single("vmsnapshot", vm_snapshot_view(snapshot))


async def _vm_of(ctx: ServiceContext, uuid: str) -> Single:
    snapshot = await vm_snapshots.get_snapshot(ctx, uuid, "id")
    return await single_vm(ctx, snapshot.vm)


def _submitted(snapshot: VmSnapshot) -> Submitted:
    return Submitted(
        vm_snapshot_jobs.VmSnapshotPayload(id=snapshot.uuid),
        instance_type=vm_snapshots.RESOURCE_TYPE,
        instance_uuid=snapshot.uuid,
    )


class CreateVmSnapshotParams(Params):
    virtualmachineid: Uuid = Field(description="The VM to snapshot (Running or Stopped)")
    name: str | None = Field(None, max_length=255, description="Display name of the snapshot")
    description: str | None = Field(None, max_length=4096, description="What it is for")
    snapshotmemory: bool = Field(False, description="Also the memory of the Running VM")
    quiescevm: bool = Field(False, description="Accepted for compatibility")


@commands.command(
    "createVMSnapshot",
    CreateVmSnapshotParams,
    description="Snapshots a VM's disks, and its memory if asked, on its host",
    allowed=ANYONE,
    response=("vmsnapshot", VmSnapshotResponse),
    related=("listVMSnapshot", "revertToVMSnapshot"),
    job=Job(vm_snapshot_jobs.CREATE, _snapshot_answer),
)
async def create_vm_snapshot(ctx: ServiceContext, p: CreateVmSnapshotParams) -> Submitted:
    snapshot = await vm_snapshots.create_on_request(
        ctx,
        p.virtualmachineid,
        display_name=p.name,
        description=p.description,
        memory=p.snapshotmemory,
    )
    return _submitted(snapshot)


class VmSnapshotIdParams(Params):
    vmsnapshotid: Uuid = Field(description="The VM snapshot")


@commands.command(
    "revertToVMSnapshot",
    VmSnapshotIdParams,
    description="Reverts a VM to a snapshot: a Running VM to a memory snapshot, a Stopped "
    "one to a disk snapshot",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_snapshot_jobs.REVERT, _vm_of),
)
async def revert_to_vm_snapshot(ctx: ServiceContext, p: VmSnapshotIdParams) -> Submitted:
    return _submitted(await vm_snapshots.revert_on_request(ctx, p.vmsnapshotid))


@commands.command(
    "deleteVMSnapshot",
    VmSnapshotIdParams,
    description="Deletes a VM snapshot",
    allowed=ANYONE,
    response=SUCCESS,
    job=Job(vm_snapshot_jobs.DELETE, answer_success),
)
async def delete_vm_snapshot(ctx: ServiceContext, p: VmSnapshotIdParams) -> Submitted:
    return _submitted(await vm_snapshots.delete_on_request(ctx, p.vmsnapshotid))


class ListVmSnapshotsParams(OwnedListParams):
    vmsnapshotid: Uuid | None = Field(None, description="List the snapshot of this id")
    virtualmachineid: Uuid | None = Field(None, description="List the snapshots of this VM")
    name: str | None = Field(None, max_length=255, description="List snapshots of this name")
    state: VmSnapshotState | None = Field(None, description="List snapshots in this state")


@commands.command(
    "listVMSnapshot",
    ListVmSnapshotsParams,
    description="Lists VM snapshots",
    allowed=ANYONE,
    response=("vmSnapshot", VmSnapshotResponse),
    writes=False,
)
async def list_vm_snapshots(ctx: ServiceContext, p: ListVmSnapshotsParams) -> ListResult:
    page = await vm_snapshots.list_snapshots(
        ctx,
        snapshot_uuid=p.vmsnapshotid,
        vm_uuid=p.virtualmachineid,
        name=p.name,
        state=p.state,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("vmSnapshot", [vm_snapshot_view(s) for s in page.items], page.total)
