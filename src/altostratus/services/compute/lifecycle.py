"""The VM state machine: which operation is allowed in which state, and each step of it.

    Stopped ──start──▶ Starting ──(placed, agent started it)──▶ Running
       ▲                  └──(no capacity, agent failed)──▶ Stopped (Error at deploy)
       └──── Stopped ◀──(agent stopped it)── Stopping ◀──stop── Running
    Running/Stopped/Error ──destroy──▶ Destroyed ──recover──▶ Stopped
    Destroyed ──expunge (or destroy expunge=true)──▶ Expunging ──(agent deleted it)──▶ removed

A request moves the VM into its transitional state (``Starting``, ``Stopping``, …) with a
conditional UPDATE, so of two concurrent requests only one gets a job and the other a
431; the job's steps (``compute.jobs``) finish the transition. Capacity: a VM holds CPU and
memory on ``host_id`` exactly while it is Starting (once placed), Running or Stopping;
every step that changes that also reserves or releases, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from altostratus.agent.protocol import NicSpec, StartVm, VolumeSpec
from altostratus.core.context import ServiceContext
from altostratus.db.models import Host, SshKeyPair, VirtualMachine, VmSnapshot, Volume
from altostratus.db.models.compute import PowerState, VmState, VolumeState, VolumeType
from altostratus.db.models.network import vm_security_groups
from altostratus.db.models.tenancy import affinity_group_members
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.compute import affinity, instance_groups, keypairs, scheduler
from altostratus.services.compute.vms import (
    VM_EVENT_RESOURCE,
    VM_RESOURCE_TYPE,
    cpu_mhz,
    get_vm,
    update_if,
    vm_by_uuid,
)
from altostratus.services.infrastructure import hosts, reservations
from altostratus.services.network import networks
from altostratus.services.shared import limits, tags
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.storage import volumes
from altostratus.timeutil import utcnow

__all__ = [
    "DESTROYABLE",
    "Placed",
    "Stopping",
    "destroy_data_disks",
    "destroy_on_request",
    "expunge_failed",
    "lock_host",
    "mark_destroyed",
    "mark_expunged",
    "mark_running",
    "mark_stopped",
    "move",
    "pinned_host",
    "place",
    "placement_of",
    "record_vm_event",
    "recover",
    "require_state",
    "reset_keypair",
    "start_again",
    "start_command",
    "start_destroy",
    "start_failed",
    "start_on_request",
    "stop_failed",
    "stop_on_request",
    "to_stopping",
    "update_vm",
]

#: What destroyVirtualMachine accepts (a Running VM is stopped first).
DESTROYABLE = (VmState.RUNNING, VmState.STOPPED, VmState.ERROR)


def require_state(vm: VirtualMachine, allowed: Collection[str], action: str) -> None:
    """431 unless the VM is in one of ``allowed`` (CloudStack's wording)."""
    if vm.state not in allowed:
        raise InvalidParameter(
            f"VM {vm.name} ({vm.uuid}) is in state {vm.state}; it must be "
            f"{' or '.join(allowed)} to {action} it"
        )


async def move(
    ctx: ServiceContext, vm: VirtualMachine, allowed: Collection[str], new: str, action: str
) -> None:
    """Move the VM from one of ``allowed`` to ``new``, or 431 if a concurrent change won."""
    require_state(vm, allowed, action)
    if not await _transition(ctx, vm, allowed, new):
        raise InvalidParameter(
            f"VM {vm.name} ({vm.uuid}) changed state while this request ran; try again"
        )


async def _transition(
    ctx: ServiceContext, vm: VirtualMachine, allowed: Collection[str], new: str, **values: Any
) -> bool:
    """One conditional UPDATE: False if the VM was not in ``allowed`` (a concurrent change).

    Two jobs may finish the same VM (a user's stop and host maintenance's); only the
    first to commit moves it, so capacity is released once. ``values`` are other
    columns set in the same UPDATE.
    """
    return await update_if(
        ctx.session, vm, (VirtualMachine.state.in_(list(allowed)),), state=new, **values
    )


async def lock_host(ctx: ServiceContext, host_id: int) -> None:
    """Lock the host's row before the VM's: the order heartbeats take them in.

    A heartbeat updates its hosts and then reconciles their VMs; a step that changed
    the VM first and released the host's capacity after would deadlock with it on
    PostgreSQL. (SQLite runs one writer at a time and has no row locks.)
    """
    await ctx.session.execute(select(Host.id).where(Host.id == host_id).with_for_update())


async def record_vm_event(
    ctx: ServiceContext, vm: VirtualMachine, event_type: str, text: str, *, level: str = "INFO"
) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} VM {vm.name} ({vm.uuid})",
        resource_type=VM_EVENT_RESOURCE,
        resource_uuid=vm.uuid,
        owner=vm.account,
        level=level,
    )


# --- start ---


async def pinned_host(ctx: ServiceContext, host_uuid: str | None, zone_id: int) -> int | None:
    """The host a root admin chose for a VM (``hostid``): it must be in the VM's zone."""
    if host_uuid is None:
        return None
    if not ctx.caller.is_root_admin:
        raise PermissionDenied("Only root admins may choose the host of a VM (hostid)")
    host = await hosts.get_host(ctx, host_uuid, "hostid")
    if host.zone_id != zone_id:
        raise invalid("hostid", "the host is not in the VM's zone", value=host_uuid)
    return host.id


async def start_on_request(
    ctx: ServiceContext, vm: VirtualMachine, host_uuid: str | None
) -> int | None:
    """Stopped → Starting for startVirtualMachine; the host to place it on, if one was chosen."""
    host_id = await pinned_host(ctx, host_uuid, vm.zone_id)
    await move(ctx, vm, (VmState.STOPPED,), VmState.STARTING, "start")
    await record_vm_event(ctx, vm, "VM.START", "Starting")
    return host_id


async def start_again(ctx: ServiceContext, vm_uuid: str) -> None:
    """Stopped → Starting for a start tried again (an HA restart a disk lease refused).

    A VM someone moved meanwhile (destroyed it, started it) is left as it is: the next
    ``place`` refuses it and the job ends.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if await _transition(ctx, vm, (VmState.STOPPED,), VmState.STARTING):
        await record_vm_event(ctx, vm, "VM.START", "Starting again")


@dataclass(frozen=True)
class Placed:
    """Where ``place`` reserved a Starting VM's capacity, and the StartVm for that host."""

    host_id: int
    command: StartVm


async def start_command(ctx: ServiceContext, vm: VirtualMachine, host_id: int) -> StartVm:
    """The agent's StartVm for ``host_id``: disks (the root one built from the template),
    NICs, keys, user data, and for a dynamically scalable VM the host's size as its room."""
    volumes = await ctx.session.scalars(
        select(Volume)
        .where(Volume.vm_id == vm.id, Volume.removed.is_(None))
        .order_by(Volume.device_id)
    )
    nics = (await networks.nics_of(ctx.session, [vm.id]))[vm.id]
    public_key = None
    if vm.keypair is not None:
        keypair = await ctx.session.scalar(
            select(SshKeyPair).where(
                SshKeyPair.account_id == vm.account_id, SshKeyPair.name == vm.keypair
            )
        )
        public_key = keypair.public_key if keypair is not None else None
    template = vm.template
    # Room to grow into for scaleVirtualMachine: as far as the host itself goes.
    host = await ctx.session.get(Host, host_id) if vm.dynamically_scalable else None
    return StartVm(
        instance_name=vm.instance_name,
        vm_uuid=vm.uuid,
        cpu_number=vm.cpu_number,
        cpu_speed=vm.cpu_speed,
        memory_mb=vm.memory_mb,
        volumes=[
            VolumeSpec(
                uuid=volume.uuid,
                device_id=volume.device_id or 0,
                size=volume.size,
                template_url=template.url if volume.type == VolumeType.ROOT else None,
                template_format=template.format if volume.type == VolumeType.ROOT else None,
            )
            for volume in volumes
        ],
        nics=[
            NicSpec(
                mac_address=nic.mac_address,
                ip_address=nic.ip_address,
                netmask=nic.netmask,
                gateway=nic.gateway,
            )
            for nic in nics
        ],
        user_data=vm.user_data,
        ssh_public_key=public_key,
        max_cpu_number=host.cpu_number if host is not None else None,
        max_memory_mb=host.memory_mb if host is not None else None,
    )


async def placement_of(
    ctx: ServiceContext,
    vm: VirtualMachine,
    *,
    host_id: int | None = None,
    cluster_id: int | None = None,
    avoid_host_ids: frozenset[int] = frozenset(),
) -> scheduler.PlacementRequest:
    """What placing ``vm`` asks of a host: its offering's size and tags, its affinity
    groups, and where a caller narrows it (an admin's host, a migration's cluster)."""
    memberships = (await affinity.groups_of(ctx.session, [vm.id])).get(vm.id, [])
    offering_tags = vm.service_offering.host_tags.split(",")
    return scheduler.PlacementRequest(
        zone_id=vm.zone_id,
        cpu_mhz=cpu_mhz(vm),
        memory_mb=vm.memory_mb,
        host_tags=frozenset(tag for tag in offering_tags if tag),
        cluster_id=cluster_id,
        host_id=host_id,
        affinity_group_ids=tuple(group.id for group in memberships),
        vm_id=vm.id,
        avoid_host_ids=avoid_host_ids,
    )


async def place(ctx: ServiceContext, vm_uuid: str, pinned_host_id: int | None) -> Placed:
    """Choose a host and reserve the VM's capacity there (533 if none fits)."""
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    require_state(vm, (VmState.STARTING,), "place")
    host_id = await scheduler.place(
        ctx.session, ctx.deps.settings, await placement_of(ctx, vm, host_id=pinned_host_id)
    )
    vm.host_id = host_id
    await ctx.session.flush()
    return Placed(host_id, await start_command(ctx, vm, host_id))


async def mark_running(ctx: ServiceContext, vm_uuid: str, host_id: int) -> None:
    """Starting → Running on ``host_id``, powered on; a no-op if a concurrent change won.

    Only a forced deletion of the host moves a Starting VM, and it settled the capacity
    (the reservation went with the host), so there is nothing to give back here.
    Recording ``PowerOn`` clears a "missing" mark a heartbeat made while it started.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await _transition(
        ctx,
        vm,
        (VmState.STARTING,),
        VmState.RUNNING,
        host_id=host_id,
        last_host_id=host_id,
        power_state=PowerState.ON,
        power_state_updated=utcnow(),
    ):
        return
    await ctx.session.execute(
        update(Volume)
        .where(Volume.vm_id == vm.id, Volume.removed.is_(None))
        .values(state=VolumeState.READY, host_id=host_id)
        .execution_options(synchronize_session=False)
    )
    host_name = await ctx.session.scalar(select(Host.name).where(Host.id == host_id))
    await record_vm_event(ctx, vm, "VM.START", f"Started on host {host_name}:")


async def start_failed(
    ctx: ServiceContext, vm_uuid: str, host_id: int | None, failure_state: str, reason: str
) -> None:
    """Give back the capacity taken for a start that failed; the VM ends ``failure_state``.

    A no-op if the VM is no longer Starting: the concurrent change that moved it (a
    forced host deletion) settled its capacity, and releasing it again would count it
    twice.
    """
    if host_id is not None:
        await lock_host(ctx, host_id)
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await _transition(ctx, vm, (VmState.STARTING,), failure_state):
        return
    if host_id is not None:
        await reservations.release(ctx.session, host_id, cpu_mhz(vm), vm.memory_mb)
    vm.host_id = None
    await record_vm_event(ctx, vm, "VM.START", f"Could not start ({reason}):", level="ERROR")


# --- stop ---


async def stop_on_request(ctx: ServiceContext, vm: VirtualMachine) -> bool:
    """Running → Stopping for stopVirtualMachine; whether the job owns the stop.

    A Stopped VM is already where the caller wants it: CloudStack answers success, so
    the request submits a job that finds nothing to stop and answers the VM (``False``:
    the job owns no stop; a VM started again meanwhile is stopped as maintenance would).
    """
    if vm.state == VmState.STOPPED:
        return False
    await move(ctx, vm, (VmState.RUNNING,), VmState.STOPPING, "stop")
    await record_vm_event(ctx, vm, "VM.STOP", "Stopping")
    return True


@dataclass(frozen=True)
class Stopping:
    """A VM a stop job found Stopping: its host, and whether this job owns the stop."""

    host_id: int
    owned: bool


async def to_stopping(ctx: ServiceContext, vm_uuid: str, requested: bool) -> Stopping | None:
    """The host to stop the VM on and whether this job owns the stop; ``None``: not running.

    Jobs of stopVirtualMachine and destroyVirtualMachine find the VM Stopping, put there
    by their request (``requested``); jobs submitted by host maintenance find it Running
    and move it here. A maintenance job that finds it Stopping stops it too, but the stop
    is another job's: only its owner may undo it (``stop_failed``), or the failure of one
    job would flip the VM back to Running while the other stops it.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    owned = requested
    if vm.state == VmState.RUNNING:
        owned = await _transition(ctx, vm, (VmState.RUNNING,), VmState.STOPPING)
    if vm.state != VmState.STOPPING:
        return None
    assert vm.host_id is not None, f"VM {vm.uuid} is Stopping without a host"
    return Stopping(vm.host_id, owned)


async def mark_stopped(ctx: ServiceContext, vm_uuid: str, host_id: int) -> None:
    """Stopping → Stopped and the capacity back; a no-op if another job stopped it first."""
    await lock_host(ctx, host_id)
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if vm.host_id != host_id or not await _transition(
        ctx, vm, (VmState.STOPPING,), VmState.STOPPED
    ):
        return
    await reservations.release(ctx.session, host_id, cpu_mhz(vm), vm.memory_mb)
    vm.host_id, vm.last_host_id = None, host_id
    vm.power_state, vm.power_state_updated = PowerState.OFF, utcnow()
    await record_vm_event(ctx, vm, "VM.STOP", "Stopped")


async def stop_failed(ctx: ServiceContext, vm_uuid: str, reason: str) -> None:
    """The agent could not stop it: it still runs, and keeps its capacity.

    Only for the job that owns the stop (``to_stopping``); a no-op if the VM is no
    longer Stopping (another job finished it meanwhile).
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if await _transition(ctx, vm, (VmState.STOPPING,), VmState.RUNNING):
        await record_vm_event(ctx, vm, "VM.STOP", f"Could not stop ({reason}):", level="ERROR")


# --- destroy, expunge, recover ---


async def _destroy_now(ctx: ServiceContext, vm: VirtualMachine, expunge: bool) -> None:
    """Stopped (or Error) → Destroyed, or Expunging when it is expunged at once."""
    await move(
        ctx,
        vm,
        (VmState.STOPPED, VmState.ERROR),
        VmState.EXPUNGING if expunge else VmState.DESTROYED,
        "destroy",
    )
    await ctx.session.execute(
        update(Volume)
        .where(Volume.vm_id == vm.id, Volume.type == VolumeType.ROOT, Volume.removed.is_(None))
        .values(state=VolumeState.DESTROY)
        .execution_options(synchronize_session=False)
    )
    await record_vm_event(ctx, vm, "VM.DESTROY", "Destroyed")


async def _check_data_disks(
    ctx: ServiceContext, vm: VirtualMachine, volume_uuids: Collection[str]
) -> list[str]:
    """``volumeids`` of destroyVirtualMachine: data disks attached to ``vm``, else 431."""
    wanted = list(dict.fromkeys(volume_uuids))
    if not wanted:
        return []
    rows = await ctx.session.execute(
        select(Volume.uuid, Volume.type).where(
            Volume.uuid.in_(wanted), Volume.vm_id == vm.id, Volume.removed.is_(None)
        )
    )
    found = {row.uuid: row.type for row in rows}
    strangers = [uuid for uuid in wanted if uuid not in found]
    if strangers:
        raise invalid(
            "volumeids",
            f"not attached to VM {vm.name} ({vm.uuid}): {', '.join(strangers)}",
            value=",".join(wanted),
        )
    roots = [uuid for uuid in wanted if found[uuid] != VolumeType.DATADISK]
    if roots:
        raise invalid(
            "volumeids",
            f"only data disks may be listed; the ROOT volume goes with the VM: {', '.join(roots)}",
            value=",".join(wanted),
        )
    return wanted


async def destroy_on_request(
    ctx: ServiceContext, vm_uuid: str, expunge: bool, volume_uuids: Collection[str] = ()
) -> tuple[VirtualMachine, list[str]]:
    """A Running VM moves to Stopping (the job stops it); any other is destroyed at once.

    Only admins may expunge at once; that is checked before the VM is even looked up.
    The rest is ``start_destroy``'s.
    """
    caller = ctx.caller
    if expunge and not (caller.is_root_admin or caller.is_domain_admin):
        raise PermissionDenied("Parameter expunge can be passed by admins only")
    return await start_destroy(ctx, vm_uuid, expunge, volume_uuids)


async def start_destroy(
    ctx: ServiceContext, vm_uuid: str, expunge: bool, volume_uuids: Collection[str] = ()
) -> tuple[VirtualMachine, list[str]]:
    """Begin destroying a VM the caller may see, whoever asks for ``expunge``: the
    teardown of an account or project expunges what a user's ``deleteProject`` allowed.

    A VM already Destroyed is expunged when ``expunge`` is given (as CloudStack does),
    else it is a 431. ``volume_uuids`` (``volumeids``) are checked here, before anything
    changes: data disks attached to the VM, which the job destroys with it. Returns the
    VM and those volumes' uuids.
    """
    vm = await get_vm(ctx, vm_uuid)
    expunge_only = expunge and vm.state == VmState.DESTROYED
    if not expunge_only:
        require_state(vm, DESTROYABLE, "destroy")
    volumes = await _check_data_disks(ctx, vm, volume_uuids)
    if expunge_only:
        await move(ctx, vm, (VmState.DESTROYED,), VmState.EXPUNGING, "expunge")
        await record_vm_event(ctx, vm, "VM.EXPUNGE", "Expunging")
    elif vm.state == VmState.RUNNING:
        await move(ctx, vm, (VmState.RUNNING,), VmState.STOPPING, "destroy")
        await record_vm_event(ctx, vm, "VM.STOP", "Stopping, to destroy it,")
    else:
        await _destroy_now(ctx, vm, expunge)
    return vm, volumes


async def destroy_data_disks(ctx: ServiceContext, vm_uuid: str, volume_uuids: list[str]) -> None:
    """Detach and delete the data disks ``volumeids`` named, once their VM is stopped.

    Each goes as ``deleteVolume`` deletes a detached disk (``volumes.retire_disk``). A disk
    no longer attached to the VM (a concurrent change) is left alone.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    disks = await ctx.session.scalars(
        select(Volume).where(
            Volume.uuid.in_(volume_uuids),
            Volume.vm_id == vm.id,
            Volume.type == VolumeType.DATADISK,
            Volume.removed.is_(None),
        )
    )
    for disk in disks:
        await volumes.retire_disk(ctx, disk, with_vm=vm.name)


async def mark_destroyed(ctx: ServiceContext, vm_uuid: str, expunge: bool) -> None:
    """After the job stopped the VM; nothing to do if the request destroyed it already."""
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if vm.state in (VmState.STOPPED, VmState.ERROR):
        await _destroy_now(ctx, vm, expunge)
    elif expunge and vm.state == VmState.DESTROYED:
        await move(ctx, vm, (VmState.DESTROYED,), VmState.EXPUNGING, "expunge")


async def expunge_failed(ctx: ServiceContext, vm_uuid: str, reason: str) -> None:
    """The host did not delete it: back to Destroyed, so the expunge can be retried.

    Conditional, like every job step: a no-op if the VM is no longer Expunging.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    if not await _transition(ctx, vm, (VmState.EXPUNGING,), VmState.DESTROYED):
        return
    await record_vm_event(ctx, vm, "VM.EXPUNGE", f"Could not expunge ({reason}):", level="ERROR")


async def mark_expunged(ctx: ServiceContext, vm_uuid: str) -> None:
    """Free everything the VM held: addresses, root disk, tags, group memberships.

    Data disks survive, detached, as CloudStack keeps them for the user.
    """
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    now = utcnow()
    session = ctx.session
    await networks.release_nics(session, vm.id)
    await session.execute(
        update(Volume)
        .where(Volume.vm_id == vm.id, Volume.type == VolumeType.ROOT, Volume.removed.is_(None))
        .values(state=VolumeState.EXPUNGED, removed=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Volume)
        .where(Volume.vm_id == vm.id, Volume.type == VolumeType.DATADISK)
        .values(vm_id=None, device_id=None, attached=None, state=VolumeState.READY)
        .execution_options(synchronize_session=False)
    )
    await tags.delete_tags_of(session, VM_RESOURCE_TYPE, vm.uuid)
    await session.execute(  # the hypervisor's copies went with the undefined domain
        update(VmSnapshot)
        .where(VmSnapshot.vm_id == vm.id, VmSnapshot.removed.is_(None))
        .values(removed=now, current=False)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(affinity_group_members).where(affinity_group_members.c.vm_id == vm.id)
    )
    await session.execute(delete(vm_security_groups).where(vm_security_groups.c.vm_id == vm.id))
    vm.state, vm.removed = VmState.EXPUNGING, now
    await record_vm_event(ctx, vm, "VM.EXPUNGE", "Expunged")


async def recover(ctx: ServiceContext, vm: VirtualMachine) -> None:
    """Destroyed → Stopped; the root disk is usable again (Ready once it has been used).

    A destroyed VM no longer counts against its account's limits, so it must fit again.
    """
    await limits.check(
        ctx.session,
        vm.account_id,
        {
            ResourceType.INSTANCE: 1,
            ResourceType.CPU: vm.cpu_number,
            ResourceType.MEMORY: vm.memory_mb,
        },
    )
    await move(ctx, vm, (VmState.DESTROYED,), VmState.STOPPED, "recover")
    await ctx.session.execute(
        update(Volume)
        .where(
            Volume.vm_id == vm.id,
            Volume.type == VolumeType.ROOT,
            Volume.state == VolumeState.DESTROY,
        )
        .values(state=VolumeState.READY)
        .execution_options(synchronize_session=False)
    )
    await record_vm_event(ctx, vm, "VM.RECOVER", "Recovered")


# --- settings of a VM ---


async def reset_keypair(ctx: ServiceContext, vm_uuid: str, keypair: str) -> None:
    """The job of resetSSHKeyForVirtualMachine: the new key goes in at the next start."""
    vm = await vm_by_uuid(ctx.session, vm_uuid)
    require_state(vm, (VmState.STOPPED,), "reset the SSH key of")
    await keypairs.get_keypair(ctx, keypair, vm.account_id)
    vm.keypair = keypair
    await record_vm_event(ctx, vm, "VM.RESETSSHKEY", f"Set key pair {keypair} for")


async def update_vm(
    ctx: ServiceContext,
    vm: VirtualMachine,
    *,
    display_name: str | None,
    group: str | None,
    user_data: str | None,
    ha_enabled: bool | None,
    dynamically_scalable: bool | None = None,
) -> None:
    """updateVirtualMachine: what may change without a restart (user data, scalability:
    at the next). ``group``: the account's instance group of that name (made if new;
    ``""``: none)."""
    if group is not None:
        vm.group = await instance_groups.group_named(ctx, vm.account, group)
    changes = {
        "display_name": display_name,
        "user_data": user_data,
        "ha_enabled": ha_enabled,
        "dynamically_scalable": dynamically_scalable,
    }
    for column, value in changes.items():
        if value is not None:
            setattr(vm, column, value)
    await ctx.session.flush()
    await record_vm_event(ctx, vm, "VM.UPDATE", "Updated")
