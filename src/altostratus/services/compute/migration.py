"""``migrateVirtualMachine``: a Running VM moves to another host of its cluster.

The request checks the VM and the target (``hostid``, or the scheduler's choice among
the cluster's other hosts), reserves the VM's capacity there and moves the VM to
``Migrating``, so no start, stop or second migration races it. The job
(``compute.jobs``) starts the VM on the target, removes it from the source host
(without its disks, which the cluster's hosts share) and only then moves the VM and
gives the source its capacity back. If the target cannot start it, the VM stays
Running where it was and the target's reservation is given back.

Hosts are moved between as the simulator does it, by a start and a removal; a live
migration between libvirt hosts (``virDomainMigrate``) is not done yet, so VMs on
other hypervisors answer 431.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from altostratus.core.context import ServiceContext
from altostratus.db.models import Host, VirtualMachine, Volume
from altostratus.db.models.compute import VmState
from altostratus.db.models.inventory import Hypervisor
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.compute import lifecycle, scheduler
from altostratus.services.compute.vms import cpu_mhz, update_if, vm_by_uuid
from altostratus.services.infrastructure import hosts, reservations

__all__ = ["Move", "migrate_on_request", "migrated", "not_migrated"]

#: Hypervisors whose VMs this server can move (see the module's docstring).
_MOVABLE = (Hypervisor.SIMULATOR,)


@dataclass(frozen=True)
class Move:
    """A migration for its job: from the source host to the target, reserved there."""

    source_host_id: int
    target_host_id: int


async def _target(ctx: ServiceContext, vm: VirtualMachine, source: Host, uuid: str) -> int:
    target = await hosts.get_host(ctx, uuid, "hostid")
    if target.id == source.id:
        raise invalid("hostid", f"VM {vm.name} already runs on host {source.name}", value=uuid)
    if target.cluster_id != source.cluster_id:
        raise invalid(
            "hostid",
            f"host {target.name} is not in the cluster of host {source.name}, "
            "whose storage the VM's disks are on",
            value=uuid,
        )
    return target.id


async def migrate_on_request(
    ctx: ServiceContext, vm: VirtualMachine, host_uuid: str | None
) -> Move:
    """Reserve the target (533 if it has no room) and move the VM to Migrating."""
    lifecycle.require_state(vm, (VmState.RUNNING,), "migrate")
    assert vm.host_id is not None, f"VM {vm.uuid} is Running without a host"
    source = await ctx.session.get_one(Host, vm.host_id)
    if source.hypervisor not in _MOVABLE:
        raise InvalidParameter(
            f"VM {vm.name} runs on a {source.hypervisor} host: migrating it is not supported"
        )
    pinned = None if host_uuid is None else await _target(ctx, vm, source, host_uuid)
    request = await lifecycle.placement_of(
        ctx, vm, host_id=pinned, cluster_id=source.cluster_id, avoid_host_ids=frozenset({source.id})
    )
    target_id = await scheduler.place(ctx.session, ctx.deps.settings, request)
    await lifecycle.move(ctx, vm, (VmState.RUNNING,), VmState.MIGRATING, "migrate")
    target_name = await ctx.session.scalar(select(Host.name).where(Host.id == target_id))
    await lifecycle.record_vm_event(
        ctx, vm, "VM.MIGRATE", f"Migrating from host {source.name} to host {target_name}:"
    )
    return Move(source.id, target_id)


async def migrated(ctx: ServiceContext, vm_uuid: str, move: Move) -> None:
    """Migrating → Running on the target; the source's capacity goes back."""
    await lifecycle.lock_host(ctx, move.source_host_id)
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await update_if(
        ctx.session,
        vm,
        (VirtualMachine.state == VmState.MIGRATING, VirtualMachine.host_id == move.source_host_id),
        state=VmState.RUNNING,
        host_id=move.target_host_id,
        last_host_id=move.target_host_id,
    ):
        return
    await reservations.release(ctx.session, move.source_host_id, cpu_mhz(vm), vm.memory_mb)
    await ctx.session.execute(
        update(Volume)
        .where(Volume.vm_id == vm.id, Volume.removed.is_(None))
        .values(host_id=move.target_host_id)
        .execution_options(synchronize_session=False)
    )
    name = await ctx.session.scalar(select(Host.name).where(Host.id == move.target_host_id))
    await lifecycle.record_vm_event(ctx, vm, "VM.MIGRATE", f"Migrated to host {name}:")


async def not_migrated(ctx: ServiceContext, vm_uuid: str, move: Move, reason: str) -> None:
    """The target could not take it: it runs on where it was; the target's room back."""
    await lifecycle.lock_host(ctx, move.target_host_id)
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await update_if(
        ctx.session,
        vm,
        (VirtualMachine.state == VmState.MIGRATING, VirtualMachine.host_id == move.source_host_id),
        state=VmState.RUNNING,
    ):
        return
    await reservations.release(ctx.session, move.target_host_id, cpu_mhz(vm), vm.memory_mb)
    await lifecycle.record_vm_event(
        ctx, vm, "VM.MIGRATE", f"Could not migrate ({reason}):", level="ERROR"
    )
