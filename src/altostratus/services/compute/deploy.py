"""``deployVirtualMachine``'s request side: check everything, then record the VM.

Every check that can fail on the caller's input (431), permission (531) or the
account's limits (532) runs here, before a job exists, so bad input never leaves a
failed job or a half-made VM behind. What this records in the request's transaction is
the whole VM as the user will see it: the VM row, its ROOT volume (and a DATADISK), its
NICs, its security and affinity groups. Placement and the start on a host are the job's
(``compute.jobs``), because they wait for capacity and for an agent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.db.models import (
    Account,
    DiskOffering,
    Network,
    ServiceOffering,
    Template,
    VirtualMachine,
    Volume,
    Zone,
    new_uuid,
)
from altostratus.db.models.compute import VmState, VolumeType
from altostratus.db.models.identity import AccountType, EntityState
from altostratus.db.models.inventory import AllocationState
from altostratus.errors import InvalidParameter, PermissionDenied, invalid
from altostratus.services.catalog import offerings, templates
from altostratus.services.compute import affinity, instance_groups, keypairs, lifecycle
from altostratus.services.compute.vms import VM_EVENT_RESOURCE
from altostratus.services.network import networks, security_groups
from altostratus.services.shared import limits
from altostratus.services.shared.events import record_event
from altostratus.services.shared.limits import ResourceType
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import owner_account

__all__ = ["GIB", "DeployRequest", "Deployed", "deploy_vm"]

GIB = 1024**3


@dataclass(frozen=True)
class DeployRequest:
    """What the caller asked for; UUIDs and names as given, sizes in GB."""

    zone_uuid: str
    service_offering_uuid: str
    template_uuid: str
    name: str | None = None
    display_name: str | None = None
    start: bool = True
    host_uuid: str | None = None
    keypair: str | None = None
    #: Base64, already checked for size.
    user_data: str | None = None
    affinity_group_uuids: Sequence[str] = ()
    affinity_group_names: Sequence[str] = ()
    security_group_uuids: Sequence[str] = ()
    security_group_names: Sequence[str] = ()
    disk_offering_uuid: str | None = None
    size_gb: int | None = None
    root_disk_size_gb: int | None = None
    network_uuids: Sequence[str] = ()
    account: str | None = None
    domain_uuid: str | None = None
    project_uuid: str | None = None
    group: str | None = None
    dynamically_scalable: bool = False


@dataclass(frozen=True)
class Deployed:
    vm: VirtualMachine
    #: The host an admin pinned the VM to (``hostid``), for the job's placement.
    pinned_host_id: int | None


@dataclass(frozen=True)
class _Disks:
    root_bytes: int
    data_offering: DiskOffering | None
    data_bytes: int


async def _owner(ctx: ServiceContext, request: DeployRequest) -> Account:
    """The caller's account, the one an admin deploys for (``account`` + ``domainid``),
    or the project's (``projectid``), checked as every command on owned objects checks it
    (``owner_account``)."""
    owner = await owner_account(ctx, request.account, request.domain_uuid, request.project_uuid)
    if owner.state != EntityState.ENABLED:
        raise PermissionDenied(f"Account {owner.name} is {owner.state}: it cannot deploy VMs")
    return owner


def _as_owner(ctx: ServiceContext, owner: Account) -> ServiceContext:
    """The call as the VM's owner sees it, for what the owner may use.

    Templates, offerings and networks are checked against the owner, not the caller:
    an admin deploying for account X must not hand it account Y's private template.
    The caller's user stays (no owner's user is needed); only the account-side fields,
    the ones visibility checks read, change.
    """
    if owner.id == ctx.caller.account_id:
        return ctx
    caller = dataclasses.replace(
        ctx.caller,
        account_id=owner.id,
        account_uuid=owner.uuid,
        account_name=owner.name,
        account_type=AccountType(owner.type),
        role_type=owner.role.type,
        domain_id=owner.domain_id,
        domain_uuid=owner.domain.uuid,
        domain_path=owner.domain.path,
    )
    return dataclasses.replace(ctx, caller=caller)


async def _zone(ctx: ServiceContext, zone_uuid: str) -> Zone:
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    if zone.allocation_state != AllocationState.ENABLED and not ctx.caller.is_root_admin:
        raise PermissionDenied(f"Zone {zone.name} is Disabled: only root admins deploy there")
    return zone


async def _disks(ctx: ServiceContext, request: DeployRequest, template: Template) -> _Disks:
    """Sizes of the ROOT disk (the template's, or ``rootdisksize``) and the data disk."""
    if request.root_disk_size_gb is not None:
        root = request.root_disk_size_gb * GIB
        if template.size is not None and root < template.size:
            raise invalid(
                "rootdisksize",
                f"smaller than the template ({math.ceil(template.size / GIB)} GB)",
                value=request.root_disk_size_gb,
            )
    elif template.size is not None:
        root = template.size
    else:
        raise InvalidParameter(
            f"The size of template {template.name} is not known yet: give rootdisksize"
        )
    if request.disk_offering_uuid is None:
        if request.size_gb is not None:
            raise invalid("size", "it needs a custom diskofferingid")
        return _Disks(root, None, 0)
    offering = await offerings.get_disk_offering(ctx, request.disk_offering_uuid)
    if offering.is_customized or offering.disk_size_gb is None:
        if request.size_gb is None:
            raise InvalidParameter(
                f"Disk offering {offering.name} has a custom size: the size parameter is required"
            )
        return _Disks(root, offering, request.size_gb * GIB)
    return _Disks(root, offering, offering.disk_size_gb * GIB)


async def _check_name_free(ctx: ServiceContext, owner: Account, name: str) -> None:
    clash = await ctx.session.scalar(
        select(VirtualMachine.uuid).where(
            VirtualMachine.account_id == owner.id,
            VirtualMachine.name == name,
            VirtualMachine.removed.is_(None),
        )
    )
    if clash is not None:
        raise invalid("name", f"the account already has a VM of this name ({clash})", value=name)


async def _networks(ctx: ServiceContext, request: DeployRequest, zone: Zone) -> list[Network]:
    if not request.network_uuids:
        return [await networks.default_network(ctx.session, zone.id)]
    chosen = [await networks.get_network(ctx, uuid, "networkids") for uuid in request.network_uuids]
    for network in chosen:
        if network.zone_id != zone.id:
            raise invalid(
                "networkids", f"the network is not in zone {zone.name}", value=network.uuid
            )
    return chosen


async def _check_limits(
    ctx: ServiceContext, owner: Account, offering: ServiceOffering, disks: _Disks
) -> None:
    volumes = 2 if disks.data_offering is not None else 1
    await limits.check(
        ctx.session,
        owner.id,
        {
            ResourceType.INSTANCE: 1,
            ResourceType.CPU: offering.cpu_number,
            ResourceType.MEMORY: offering.memory_mb,
            ResourceType.VOLUME: volumes,
            ResourceType.PRIMARY_STORAGE: disks.root_bytes + disks.data_bytes,
        },
    )


def _volumes(vm: VirtualMachine, template: Template, disks: _Disks) -> list[Volume]:
    owned = {"account_id": vm.account_id, "domain_id": vm.domain_id, "zone_id": vm.zone_id}
    root = Volume(
        name=f"ROOT-{vm.id}",
        vm_id=vm.id,
        type=VolumeType.ROOT,
        device_id=0,
        size=disks.root_bytes,
        template_id=template.id,
        **owned,
    )
    if disks.data_offering is None:
        return [root]
    data = Volume(
        name=f"DATA-{vm.id}",
        vm_id=vm.id,
        type=VolumeType.DATADISK,
        device_id=1,
        size=disks.data_bytes,
        disk_offering_id=disks.data_offering.id,
        **owned,
    )
    return [root, data]


async def deploy_vm(ctx: ServiceContext, request: DeployRequest) -> Deployed:
    """Check the request and record the VM: ``Starting`` if it is to start, else ``Stopped``."""
    owner = await _owner(ctx, request)
    as_owner = _as_owner(ctx, owner)
    zone = await _zone(ctx, request.zone_uuid)
    offering = await offerings.get_service_offering(as_owner, request.service_offering_uuid)
    template = await templates.get_launchable_template(as_owner, request.template_uuid, zone.id)
    pinned = await lifecycle.pinned_host(ctx, request.host_uuid, zone.id)
    disks = await _disks(as_owner, request, template)
    if request.keypair is not None:
        await keypairs.get_keypair(ctx, request.keypair, owner.id)
    uuid = new_uuid()
    name = request.name or f"VM-{uuid}"
    await _check_name_free(ctx, owner, name)
    affinity_groups = await affinity.groups_for_deploy(
        ctx, owner.id, list(request.affinity_group_uuids), list(request.affinity_group_names)
    )
    groups = await security_groups.groups_for_deploy(
        ctx, owner.id, list(request.security_group_uuids), list(request.security_group_names)
    )
    chosen_networks = await _networks(as_owner, request, zone)
    await _check_limits(ctx, owner, offering, disks)

    vm = VirtualMachine(
        uuid=uuid,
        name=name,
        display_name=request.display_name or name,
        # Unique, and replaced once the id is known (``i-<account>-<vm>-VM``).
        instance_name=f"pending-{uuid}",
        account_id=owner.id,
        domain_id=owner.domain_id,
        zone_id=zone.id,
        service_offering_id=offering.id,
        template_id=template.id,
        state=VmState.STARTING if request.start else VmState.STOPPED,
        cpu_number=offering.cpu_number,
        cpu_speed=offering.cpu_speed,
        memory_mb=offering.memory_mb,
        ha_enabled=offering.offer_ha,
        user_data=request.user_data,
        keypair=request.keypair,
        group=await instance_groups.group_named(ctx, owner, request.group or ""),
        dynamically_scalable=request.dynamically_scalable,
    )
    ctx.session.add(vm)
    await ctx.session.flush()
    vm.instance_name = f"i-{owner.id}-{vm.id}-VM"
    ctx.session.add_all(_volumes(vm, template, disks))
    for network in chosen_networks:
        await networks.allocate_nic(ctx.session, vm, network)
    await security_groups.attach(ctx.session, vm.id, groups)
    await affinity.add_members(ctx.session, affinity_groups, vm.id)
    await ctx.session.flush()
    await record_event(
        ctx,
        "VM.CREATE",
        f"Created VM {vm.name} ({vm.uuid}) in zone {zone.name}",
        resource_type=VM_EVENT_RESOURCE,
        resource_uuid=vm.uuid,
        owner=owner,
    )
    await ctx.session.refresh(vm)
    return Deployed(vm, pinned)
