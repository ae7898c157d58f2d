"""Virtual machines: look-ups, listings, what a VM's answer shows, and power-state sync.

Who sees a VM: its account; domain admins the VMs of their subtree; root admins every
VM. Another account's VM is "not found" (431), so ids reveal nothing. Users do not see
their Destroyed VMs (only admins may recover or expunge them), and an expunged VM
(``removed``) is gone for everyone.

The life cycle itself (deploy, start, stop, …) lives in ``compute.deploy`` and
``compute.lifecycle``; this module is what they and the agent link share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

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
    AffinityGroup,
    Domain,
    Event,
    Host,
    InstanceGroup,
    IpAddress,
    Nic,
    PublicEntity,
    ResourceTag,
    SecurityGroup,
    ServiceOffering,
    Template,
    VirtualMachine,
    Zone,
)
from altostratus.db.models.compute import PowerState, VmState
from altostratus.db.models.tenancy import affinity_group_members
from altostratus.db.rows import rowcount
from altostratus.errors import InvalidParameter
from altostratus.services.compute import affinity
from altostratus.services.infrastructure import reservations
from altostratus.services.network import networks, security_groups
from altostratus.services.network.addresses import PUBLIC_PURPOSE
from altostratus.services.shared import tags
from altostratus.services.shared.access import (
    container_domain,
    get_account,
    require_managed_account,
)
from altostratus.services.shared.ownership import named_owner, not_projects, visible_to
from altostratus.services.shared.projects import project_listing
from altostratus.services.shared.visibility import owned_rows_filter, subtree_filter
from altostratus.timeutil import utcnow

__all__ = [
    "VM_EVENT_RESOURCE",
    "VM_RESOURCE_TYPE",
    "VmDetails",
    "VmFilter",
    "cpu_mhz",
    "details_of",
    "get_vm",
    "list_vms",
    "reconcile_power_states",
    "update_if",
    "vm_by_uuid",
]

#: CloudStack's resource type name of a VM in tags.
VM_RESOURCE_TYPE = "UserVm"
#: ... and in events (the event bus routing key says ``VirtualMachine``).
VM_EVENT_RESOURCE = "VirtualMachine"

#: States only admins see in listings: a user can neither recover nor expunge them.
_ADMIN_ONLY_STATES = (VmState.DESTROYED, VmState.EXPUNGING)


def cpu_mhz(vm: VirtualMachine) -> int:
    """What the VM reserves on its host: every core at the offering's speed."""
    return vm.cpu_number * vm.cpu_speed


async def get_vm(ctx: ServiceContext, uuid: str, parameter: str = "id") -> VirtualMachine:
    """The live VM ``uuid`` if the caller may see it; 431 naming ``parameter`` otherwise."""
    vm = await ctx.session.scalar(
        select(VirtualMachine)
        .join(Account, VirtualMachine.account_id == Account.id)
        .join(Domain, VirtualMachine.domain_id == Domain.id)
        .where(
            VirtualMachine.uuid == uuid,
            VirtualMachine.removed.is_(None),
            visible_to(ctx.caller),
        )
    )
    if vm is None:
        raise InvalidParameter(
            f"Unable to find virtual machine with id {uuid} (parameter {parameter})"
        )
    return vm


async def vm_by_uuid(session: AsyncSession, uuid: str) -> VirtualMachine:
    """A VM for a job: the submitter's permission was checked when the job was submitted."""
    vm = await session.scalar(select(VirtualMachine).where(VirtualMachine.uuid == uuid))
    if vm is None:
        raise InvalidParameter(f"Unable to find virtual machine with id {uuid}")
    return vm


async def update_if(
    session: AsyncSession,
    vm: VirtualMachine,
    conditions: Sequence[ColumnElement[bool]],
    **values: Any,
) -> bool:
    """Set ``values`` on the VM's row in one UPDATE, only if ``conditions`` still hold.

    What a transaction read may have changed since (a job step, a heartbeat, a request
    on another server); the condition is checked by the database on the row itself, so
    of two concurrent changes only one applies. False: nothing changed. The loaded
    ``vm`` follows the new values.
    """
    changed = await session.execute(
        update(VirtualMachine)
        .where(VirtualMachine.id == vm.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:
        return False
    for column, value in values.items():
        set_committed_value(vm, column, value)
    return True


# --- listing ---


@dataclass(frozen=True)
class VmFilter:
    """``listVirtualMachines``' filters (UUIDs as given; ``None``: not filtered)."""

    uuid: str | None = None
    uuids: tuple[str, ...] = ()
    name: str | None = None
    state: str | None = None
    zone_uuid: str | None = None
    host_uuid: str | None = None
    template_uuid: str | None = None
    service_offering_uuid: str | None = None
    affinity_group_uuid: str | None = None
    #: The instance group's uuid (``groupid``).
    group_uuid: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    keyword: str | None = None
    account: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    listall: bool = False
    #: A project's uuid, or ``projects.ALL_PROJECTS``.
    project_uuid: str | None = None


async def _owner_scope(ctx: ServiceContext, wanted: VmFilter) -> ColumnElement[bool]:
    """Whose VMs: a project's, or an account (admins), a domain (or its subtree), or the
    listall rule, projects left out (``shared.ownership``)."""
    if wanted.project_uuid is not None:
        return await project_listing(ctx, wanted.project_uuid, account=wanted.account)
    return and_(await _account_scope(ctx, wanted), not_projects())


async def _account_scope(ctx: ServiceContext, wanted: VmFilter) -> ColumnElement[bool]:
    caller = ctx.caller
    is_admin = caller.is_root_admin or caller.is_domain_admin
    if not is_admin:
        # A user lists only its own VMs; naming another account is refused (not found),
        # as every listing of owned objects refuses it, rather than quietly ignored.
        await named_owner(ctx, wanted.account, wanted.domain_uuid)
    if wanted.account is not None and is_admin:
        account = await get_account(
            ctx, account_uuid=None, name=wanted.account, domain_uuid=wanted.domain_uuid
        )
        require_managed_account(caller, account)
        return VirtualMachine.account_id == account.id
    if wanted.domain_uuid is not None and is_admin:
        domain = await container_domain(ctx, wanted.domain_uuid)
        if wanted.recursive or wanted.listall:
            return subtree_filter(Domain.path, domain.path)
        return Domain.id == domain.id
    by_id = wanted.uuid is not None or bool(wanted.uuids)
    return owned_rows_filter(
        caller,
        account_uuid_column=Account.uuid,
        domain_path_column=Domain.path,
        listall=wanted.listall or by_id,
    )


def _tag_filter(wanted: tuple[tuple[str, str], ...]) -> ColumnElement[bool]:
    return and_(
        true(),
        *(
            exists().where(
                ResourceTag.resource_type == VM_RESOURCE_TYPE,
                ResourceTag.resource_uuid == VirtualMachine.uuid,
                ResourceTag.key == key,
                ResourceTag.value == value,
            )
            for key, value in wanted
        ),
    )


def _uuid_filters(wanted: VmFilter) -> list[ColumnElement[bool]]:
    """Filters by related objects' UUIDs, as sub-selects (no joins that multiply rows)."""
    related: list[tuple[Any, type[PublicEntity], str | None]] = [
        (VirtualMachine.zone_id, Zone, wanted.zone_uuid),
        (VirtualMachine.host_id, Host, wanted.host_uuid),
        (VirtualMachine.template_id, Template, wanted.template_uuid),
        (VirtualMachine.service_offering_id, ServiceOffering, wanted.service_offering_uuid),
        (VirtualMachine.group_id, InstanceGroup, wanted.group_uuid),
    ]
    conditions: list[ColumnElement[bool]] = []
    for column, model, uuid in related:
        if uuid is not None:
            conditions.append(column.in_(select(model.id).where(model.uuid == uuid)))
    if wanted.affinity_group_uuid is not None:
        conditions.append(
            VirtualMachine.id.in_(
                select(affinity_group_members.c.vm_id)
                .join(AffinityGroup, AffinityGroup.id == affinity_group_members.c.affinity_group_id)
                .where(AffinityGroup.uuid == wanted.affinity_group_uuid)
            )
        )
    if wanted.uuids:
        conditions.append(VirtualMachine.uuid.in_(wanted.uuids))
    return conditions


async def list_vms(
    ctx: ServiceContext, wanted: VmFilter, page: PageRequest
) -> Page[VirtualMachine]:
    """The VMs the caller may see that match ``wanted``, oldest first."""
    caller = ctx.caller
    query = (
        select(VirtualMachine)
        .join(Account, VirtualMachine.account_id == Account.id)
        .join(Domain, VirtualMachine.domain_id == Domain.id)
        .where(
            VirtualMachine.removed.is_(None),
            await _owner_scope(ctx, wanted),
            equal_if_given(
                (VirtualMachine.uuid, wanted.uuid),
                (VirtualMachine.name, wanted.name),
                (VirtualMachine.state, wanted.state),
            ),
            keyword_filter(
                wanted.keyword,
                VirtualMachine.name,
                VirtualMachine.display_name,
                VirtualMachine.instance_name,
            ),
            _tag_filter(wanted.tags),
            *_uuid_filters(wanted),
        )
    )
    if not (caller.is_root_admin or caller.is_domain_admin):
        query = query.where(VirtualMachine.state.not_in(_ADMIN_ONLY_STATES))
    return await paginate(ctx.session, query.order_by(VirtualMachine.id), page)


# --- what an answer shows with a VM ---


@dataclass(frozen=True)
class VmDetails:
    """A VM with the rows its answer embeds."""

    vm: VirtualMachine
    nics: Sequence[Nic]
    security_groups: Sequence[SecurityGroup]
    affinity_groups: Sequence[AffinityGroup]
    tags: Sequence[ResourceTag]
    public_ip: IpAddress | None


async def details_of(session: AsyncSession, vms: Sequence[VirtualMachine]) -> list[VmDetails]:
    """The embedded rows of ``vms``, a few queries for the whole page."""
    ids = [vm.id for vm in vms]
    nics = await networks.nics_of(session, ids)
    groups = await security_groups.groups_of(session, ids)
    affinities = await affinity.groups_of(session, ids)
    vm_tags = await tags.tags_of(session, VM_RESOURCE_TYPE, [vm.uuid for vm in vms])
    public: dict[int, IpAddress] = {}
    if ids:
        addresses = await session.scalars(
            select(IpAddress)
            .where(IpAddress.vm_id.in_(ids), IpAddress.purpose == PUBLIC_PURPOSE)
            .order_by(IpAddress.id)
        )
        for address in addresses:
            if address.vm_id is not None:
                public.setdefault(address.vm_id, address)
    return [
        VmDetails(
            vm=vm,
            nics=nics.get(vm.id, []),
            security_groups=groups.get(vm.id, []),
            affinity_groups=affinities.get(vm.id, []),
            tags=vm_tags.get(vm.uuid, []),
            public_ip=public.get(vm.id),
        )
        for vm in vms
    ]


# --- power states reported by the hosts' agents ---


async def _out_of_band_event(session: AsyncSession, vm: VirtualMachine, text: str) -> None:
    """An event no user caused: the hypervisor changed the VM behind the cloud's back."""
    session.add(
        Event(
            type="VM.STOP" if vm.state == VmState.STOPPED else "VM.START",
            level="WARN",
            description=text,
            username="system",
            user_uuid=None,
            account_name=vm.account.name,
            account_uuid=vm.account.uuid,
            domain_uuid=vm.domain.uuid,
            domain_path=vm.domain.path,
            resource_type=VM_EVENT_RESOURCE,
            resource_uuid=vm.uuid,
        )
    )


async def _hold_capacity(session: AsyncSession, host_id: int, vm: VirtualMachine) -> None:
    """Count a VM found running on the host, room or not: the allocation follows the truth.

    ``reservations.reserve`` would refuse when the host is full, but the VM consumes the
    host's resources whether the cloud agrees or not; counting it keeps the allocation
    equal to what runs there, and the scheduler places nothing more on a full host.
    """
    await session.execute(
        update(Host)
        .where(Host.id == host_id)
        .values(
            cpu_allocated_mhz=Host.cpu_allocated_mhz + cpu_mhz(vm),
            memory_allocated_mb=Host.memory_allocated_mb + vm.memory_mb,
        )
        .execution_options(synchronize_session=False)
    )


async def reconcile_power_states(
    session: AsyncSession, host_id: int, reported: Mapping[str, str]
) -> None:
    """Make the database follow what the host's agent sees (``instance_name`` → power state).

    A VM Running here that the agent reports off or not at all (anything but ``PowerOn``)
    in two reports in a row was stopped out of band: it becomes Stopped and gives its
    capacity back. One report is not enough: the agent captures it before this
    transaction reads the VMs, so a VM whose start completed in between is missing from
    it; that report only records the power state (every start records ``PowerOn``,
    clearing it). A Stopped VM that last ran here and is reported on was started out of
    band: it becomes Running and holds capacity again. VMs in a transition (Starting,
    Stopping, …) belong to a job and are left alone, apart from their recorded power
    state. One query finds every VM concerned; each change is a conditional UPDATE, so a
    job step that moved the VM meanwhile wins.

    The caller holds the host's row already (the heartbeat updated it), so the lock order
    is host, then VMs, as in every VM job step that touches capacity.
    """
    powered_on = [name for name, state in reported.items() if state == PowerState.ON]
    candidates = await session.scalars(
        select(VirtualMachine).where(
            VirtualMachine.removed.is_(None),
            or_(
                VirtualMachine.host_id == host_id,
                and_(
                    VirtualMachine.host_id.is_(None),
                    VirtualMachine.last_host_id == host_id,
                    VirtualMachine.instance_name.in_(powered_on),
                ),
            ),
        )
    )
    now = utcnow()
    for vm in candidates.all():
        power = reported.get(vm.instance_name, PowerState.MISSING)
        running_here = vm.state == VmState.RUNNING and vm.host_id == host_id
        if running_here and power != PowerState.ON and vm.power_state != PowerState.ON:
            await _stopped_out_of_band(session, host_id, vm, power, now)
        elif vm.state == VmState.STOPPED and vm.host_id is None and power == PowerState.ON:
            await _started_out_of_band(session, host_id, vm, now)
        elif vm.power_state != power:
            vm.power_state, vm.power_state_updated = power, now
    await session.flush()


async def _stopped_out_of_band(
    session: AsyncSession, host_id: int, vm: VirtualMachine, power: str, now: datetime
) -> None:
    """Running → Stopped, the capacity back: if it is still Running here, reported off."""
    if not await update_if(
        session,
        vm,
        (
            VirtualMachine.state == VmState.RUNNING,
            VirtualMachine.host_id == host_id,
            VirtualMachine.power_state != PowerState.ON,
        ),
        state=VmState.STOPPED,
        host_id=None,
        last_host_id=host_id,
        power_state=power,
        power_state_updated=now,
    ):
        return
    await reservations.release(session, host_id, cpu_mhz(vm), vm.memory_mb)
    await _out_of_band_event(
        session, vm, f"VM {vm.name} was stopped out of band (host reports {power})"
    )


async def _started_out_of_band(
    session: AsyncSession, host_id: int, vm: VirtualMachine, now: datetime
) -> None:
    """Stopped → Running here, holding capacity: only if no start or destroy moved it."""
    if not await update_if(
        session,
        vm,
        (VirtualMachine.state == VmState.STOPPED, VirtualMachine.host_id.is_(None)),
        state=VmState.RUNNING,
        host_id=host_id,
        power_state=PowerState.ON,
        power_state_updated=now,
    ):
        return
    await _hold_capacity(session, host_id, vm)
    await _out_of_band_event(session, vm, f"VM {vm.name} was started out of band on its host")
