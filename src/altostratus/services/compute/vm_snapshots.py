"""VM snapshots: ``createVMSnapshot``, ``revertToVMSnapshot``, ``deleteVMSnapshot``, listing.

A VM snapshot lives in the hypervisor of the host the VM ran on when it was taken
(``host_id``). The request checks the VM's and the snapshot's states and moves the
snapshot into its transitional state (Creating, Reverting, Expunging) so one VM has
one snapshot task at a time, as CloudStack has it; the job (``compute.jobs``) asks the
host and records the outcome. A memory snapshot is of a Running VM and is reverted
while the VM runs on that host, which it keeps doing; a disk-only one is reverted while
the VM is Stopped, which it stays. Who sees and acts on a snapshot: who may see its VM.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update

from altostratus.agent.protocol import VmSnapshotCommand
from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, Domain, VirtualMachine, VmSnapshot
from altostratus.db.models.compute import VmSnapshotState, VmState
from altostratus.db.rows import rowcount
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.compute import lifecycle
from altostratus.services.compute.vms import get_vm
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import OwnerScope, listed_owners, visible_to
from altostratus.timeutil import utcnow

__all__ = [
    "RESOURCE_TYPE",
    "command_for",
    "create_on_request",
    "delete_on_request",
    "failed",
    "finished",
    "get_snapshot",
    "list_snapshots",
    "removed",
    "revert_on_request",
]

RESOURCE_TYPE = "VMSnapshot"
_BUSY = (VmSnapshotState.CREATING, VmSnapshotState.REVERTING, VmSnapshotState.EXPUNGING)


async def _record(ctx: ServiceContext, snapshot: VmSnapshot, event_type: str, text: str) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} VM snapshot {snapshot.display_name} ({snapshot.uuid}) of VM {snapshot.vm.name}",
        resource_type=RESOURCE_TYPE,
        resource_uuid=snapshot.uuid,
        owner=snapshot.account,
    )


async def _require_idle(ctx: ServiceContext, vm: VirtualMachine) -> None:
    busy = await ctx.session.scalar(
        select(VmSnapshot.uuid).where(
            VmSnapshot.vm_id == vm.id, VmSnapshot.removed.is_(None), VmSnapshot.state.in_(_BUSY)
        )
    )
    if busy is not None:
        raise InvalidParameter(
            f"VM {vm.name} has another VM snapshot task under way ({busy}); try again later"
        )


async def create_on_request(
    ctx: ServiceContext,
    vm_uuid: str,
    *,
    display_name: str | None,
    description: str | None,
    memory: bool,
) -> VmSnapshot:
    vm = await get_vm(ctx, vm_uuid, "virtualmachineid")
    lifecycle.require_state(vm, (VmState.RUNNING, VmState.STOPPED), "snapshot")
    if memory and vm.state != VmState.RUNNING:
        raise invalid("snapshotmemory", "the memory of a VM that is not Running", value=True)
    host_id = vm.host_id or vm.last_host_id
    if host_id is None:
        raise invalid(
            "virtualmachineid",
            f"VM {vm.name} has never run: no host holds its disks",
            value=vm_uuid,
        )
    await _require_idle(ctx, vm)
    name = f"{vm.instance_name}_VS_{utcnow():%Y%m%d%H%M%S%f}"
    snapshot = VmSnapshot(
        name=name,
        display_name=display_name or name,
        description=description,
        vm_id=vm.id,
        account_id=vm.account_id,
        domain_id=vm.domain_id,
        zone_id=vm.zone_id,
        host_id=host_id,
        state=VmSnapshotState.CREATING,
        memory=memory,
    )
    ctx.session.add(snapshot)
    await ctx.session.flush()
    await ctx.session.refresh(snapshot)
    await _record(ctx, snapshot, "VMSNAPSHOT.CREATE", "Creating")
    return snapshot


async def get_snapshot(ctx: ServiceContext, uuid: str, parameter: str) -> VmSnapshot:
    found = await ctx.session.scalar(
        select(VmSnapshot)
        .join(Account, VmSnapshot.account_id == Account.id)
        .join(Domain, VmSnapshot.domain_id == Domain.id)
        .where(VmSnapshot.uuid == uuid, VmSnapshot.removed.is_(None), visible_to(ctx.caller))
    )
    if found is None:
        raise InvalidParameter(f"Unable to find VM snapshot with id {uuid} (parameter {parameter})")
    return found


async def _move(
    ctx: ServiceContext, snapshot: VmSnapshot, allowed: tuple[str, ...], new: str
) -> None:
    """``allowed`` → ``new`` in one conditional UPDATE; 431 if a concurrent change won."""
    if snapshot.state not in allowed:
        raise InvalidParameter(
            f"VM snapshot {snapshot.display_name} is {snapshot.state}; it must be "
            f"{' or '.join(allowed)}"
        )
    changed = await ctx.session.execute(
        update(VmSnapshot)
        .where(VmSnapshot.id == snapshot.id, VmSnapshot.state.in_(allowed))
        .values(state=new)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:
        raise InvalidParameter(f"VM snapshot {snapshot.uuid} changed while this request ran")
    snapshot.state = new


async def revert_on_request(ctx: ServiceContext, uuid: str) -> VmSnapshot:
    snapshot = await get_snapshot(ctx, uuid, "vmsnapshotid")
    vm = snapshot.vm
    if snapshot.memory:
        lifecycle.require_state(vm, (VmState.RUNNING,), "revert to a memory snapshot")
        if vm.host_id != snapshot.host_id:
            raise InvalidParameter(
                f"VM {vm.name} runs on another host than the one holding its snapshot"
            )
    else:
        lifecycle.require_state(vm, (VmState.STOPPED,), "revert to a disk snapshot")
    await _require_idle(ctx, vm)
    await _move(ctx, snapshot, (VmSnapshotState.READY,), VmSnapshotState.REVERTING)
    await _record(ctx, snapshot, "VMSNAPSHOT.REVERTTO", "Reverting to")
    return snapshot


async def delete_on_request(ctx: ServiceContext, uuid: str) -> VmSnapshot:
    snapshot = await get_snapshot(ctx, uuid, "vmsnapshotid")
    await _move(
        ctx, snapshot, (VmSnapshotState.READY, VmSnapshotState.ERROR), VmSnapshotState.EXPUNGING
    )
    await _record(ctx, snapshot, "VMSNAPSHOT.DELETE", "Deleting")
    return snapshot


async def _by_uuid(ctx: ServiceContext, uuid: str) -> VmSnapshot:
    return (await ctx.session.scalars(select(VmSnapshot).where(VmSnapshot.uuid == uuid))).one()


async def command_for(ctx: ServiceContext, uuid: str) -> tuple[int | None, dict[str, object]]:
    """The host holding the snapshot and the command naming it, for the job."""
    snapshot = await _by_uuid(ctx, uuid)
    command = VmSnapshotCommand(
        instance_name=snapshot.vm.instance_name,
        snapshot_name=snapshot.name,
        memory=snapshot.memory,
    )
    return snapshot.host_id, command.model_dump()


async def finished(ctx: ServiceContext, uuid: str) -> None:
    """Creating or Reverting → Ready, and the VM's current snapshot (a new one's parent)."""
    snapshot = await _by_uuid(ctx, uuid)
    was = snapshot.state
    if was not in (VmSnapshotState.CREATING, VmSnapshotState.REVERTING):
        return
    siblings: ColumnElement[bool] = (VmSnapshot.vm_id == snapshot.vm_id) & (
        VmSnapshot.id != snapshot.id
    )
    if was == VmSnapshotState.CREATING:
        snapshot.parent_uuid = await ctx.session.scalar(
            select(VmSnapshot.uuid).where(
                siblings, VmSnapshot.current.is_(True), VmSnapshot.removed.is_(None)
            )
        )
    await ctx.session.execute(
        update(VmSnapshot)
        .where(siblings)
        .values(current=False)
        .execution_options(synchronize_session=False)
    )
    snapshot.state, snapshot.current = VmSnapshotState.READY, True
    if was == VmSnapshotState.CREATING:
        await _record(ctx, snapshot, "VMSNAPSHOT.CREATE", "Created")
    else:
        await _record(ctx, snapshot, "VMSNAPSHOT.REVERTTO", "Reverted to")


async def failed(ctx: ServiceContext, uuid: str, reason: str) -> None:
    """The host refused: a new snapshot is Error; one being reverted or deleted, Ready."""
    snapshot = await _by_uuid(ctx, uuid)
    if snapshot.state not in _BUSY:
        return
    creating = snapshot.state == VmSnapshotState.CREATING
    snapshot.state = VmSnapshotState.ERROR if creating else VmSnapshotState.READY
    await _record(ctx, snapshot, "VMSNAPSHOT.ERROR", f"Failed ({reason}):")


async def removed(ctx: ServiceContext, uuid: str) -> None:
    snapshot = await _by_uuid(ctx, uuid)
    if snapshot.removed is None:
        snapshot.removed, snapshot.current = utcnow(), False
        await _record(ctx, snapshot, "VMSNAPSHOT.DELETE", "Deleted")


async def list_snapshots(
    ctx: ServiceContext,
    *,
    snapshot_uuid: str | None,
    vm_uuid: str | None,
    name: str | None,
    state: str | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[VmSnapshot]:
    finding = snapshot_uuid is not None or vm_uuid is not None
    if finding:
        scope = OwnerScope(scope.account, scope.domain_uuid, scope.recursive, listall=True)
    query = (
        select(VmSnapshot)
        .join(Account, VmSnapshot.account_id == Account.id)
        .join(Domain, VmSnapshot.domain_id == Domain.id)
        .where(
            VmSnapshot.removed.is_(None),
            await listed_owners(ctx, scope),
            equal_if_given(
                (VmSnapshot.uuid, snapshot_uuid),
                (VmSnapshot.display_name, name),
                (VmSnapshot.state, state),
            ),
            keyword_filter(keyword, VmSnapshot.display_name, VmSnapshot.description),
        )
    )
    if vm_uuid is not None:
        query = query.where(
            VmSnapshot.vm_id.in_(select(VirtualMachine.id).where(VirtualMachine.uuid == vm_uuid))
        )
    return await paginate(ctx.session, query.order_by(VmSnapshot.id), page)
