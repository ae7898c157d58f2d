"""Virtual machines: deploy and the life cycle (start, stop, reboot, destroy, …).

Every VM operation that touches a host is asynchronous: the request checks the input
and the VM's state, moves the VM into its transitional state and submits a job
(``services.compute.jobs``) that drives the host's agent. The job's result is the VM as
``listVirtualMachines`` shows it. Root admins also see where a VM runs (``hostid``,
``hostname``) and its hypervisor name (``instancename``).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.commands.compute.affinity import AffinityGroupResponse, affinity_group_view
from altostratus.api.commands.network.networks import NicResponse, nic_view
from altostratus.api.commands.network.security_groups import (
    SecurityGroupResponse,
    security_group_view,
)
from altostratus.api.commands.shared.tags import TagResponse, tag_view
from altostratus.api.declarations import ADMINS, ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.ownership import ProjectFilter
from altostratus.api.params import (
    CommaList,
    ListParams,
    MapParam,
    Params,
    Uuid,
    UuidList,
    page_request,
)
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import VirtualMachine
from altostratus.db.models.compute import VmState
from altostratus.errors import invalid
from altostratus.services.compute import affinity, keypairs, lifecycle
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.compute.deploy import DeployRequest, deploy_vm
from altostratus.services.compute.vms import (
    VmDetails,
    VmFilter,
    details_of,
    get_vm,
    list_vms,
    vm_by_uuid,
)
from altostratus.services.shared.ownership import named_owner
from altostratus.timeutil import format_timestamp

__all__ = [
    "DeployParams",
    "DestroyParams",
    "IdParams",
    "ListVmsParams",
    "ResetKeyParams",
    "StartParams",
    "StopParams",
    "UpdateParams",
    "UpdateVmGroupsParams",
    "VirtualMachineResponse",
    "commands",
    "deploy_virtual_machine",
    "destroy_virtual_machine",
    "expunge_virtual_machine",
    "list_virtual_machines",
    "reboot_virtual_machine",
    "recover_virtual_machine",
    "reset_ssh_key",
    "single_vm",
    "start_virtual_machine",
    "stop_virtual_machine",
    "submitted",
    "update_virtual_machine",
    "update_vm_groups",
    "vm_answer",
    "vm_view",
]

commands = CommandSet()

_INSTANCE = "VirtualMachine"
#: CloudStack's limit on decoded user data (sent with POST; 2 KB fit in a GET).
_MAX_USER_DATA = 32768
#: A host name (RFC 1123 label) that does not start with a digit, as CloudStack requires.
_HOST_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def _host_name(value: str) -> str:
    if not _HOST_NAME.match(value):
        raise ValueError(
            "a VM name is 1 to 63 ASCII letters, digits and hyphens, starts with a letter "
            "and does not end with a hyphen"
        )
    return value


def _user_data(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("user data must be base64-encoded") from None
    if len(decoded) > _MAX_USER_DATA:
        raise ValueError(f"user data is {len(decoded)} bytes decoded; at most {_MAX_USER_DATA}")
    return value


HostName = Annotated[str, AfterValidator(_host_name)]
UserData = Annotated[str, AfterValidator(_user_data)]


# --- the answer ---


class VirtualMachineResponse(ResponseObject):
    id: str
    name: str
    displayname: str
    account: str
    domainid: str
    domain: str
    created: str
    state: str
    haenable: bool
    isdynamicallyscalable: bool
    zoneid: str
    zonename: str
    hostid: str | None = None
    hostname: str | None = None
    instancename: str | None = None
    templateid: str
    templatename: str
    templatedisplaytext: str
    passwordenabled: bool
    serviceofferingid: str
    serviceofferingname: str
    cpunumber: int
    cpuspeed: int
    memory: int
    guestosid: str
    rootdeviceid: int = 0
    rootdevicetype: str = "ROOT"
    hypervisor: str
    keypair: str | None = None
    group: str | None = None
    groupid: str | None = None
    publicip: str | None = None
    publicipid: str | None = None
    nic: list[NicResponse]
    securitygroup: list[SecurityGroupResponse]
    affinitygroup: list[AffinityGroupResponse]
    tags: list[TagResponse]


def vm_view(details: VmDetails, *, full: bool) -> VirtualMachineResponse:
    """``full`` (root admins) adds the host and the hypervisor's name of the VM."""
    vm = details.vm
    placement = (
        {
            "hostid": vm.host.uuid if vm.host else None,
            "hostname": vm.host.name if vm.host else None,
            "instancename": vm.instance_name,
        }
        if full
        else {}
    )
    template = vm.template
    offering = vm.service_offering
    public = details.public_ip
    return VirtualMachineResponse(
        id=vm.uuid,
        name=vm.name,
        displayname=vm.display_name,
        account=vm.account.name,
        domainid=vm.domain.uuid,
        domain=vm.domain.name,
        created=format_timestamp(vm.created),
        state=vm.state,
        haenable=vm.ha_enabled,
        isdynamicallyscalable=vm.dynamically_scalable,
        zoneid=vm.zone.uuid,
        zonename=vm.zone.name,
        templateid=template.uuid,
        templatename=template.name,
        templatedisplaytext=template.display_text,
        passwordenabled=template.password_enabled,
        serviceofferingid=offering.uuid,
        serviceofferingname=offering.name,
        cpunumber=vm.cpu_number,
        cpuspeed=vm.cpu_speed,
        memory=vm.memory_mb,
        guestosid=template.os_type.uuid,
        hypervisor=vm.host.hypervisor if vm.host else template.hypervisor,
        keypair=vm.keypair,
        group=vm.group.name if vm.group else None,
        groupid=vm.group.uuid if vm.group else None,
        publicip=public.address if public else None,
        publicipid=public.uuid if public else None,
        nic=[nic_view(nic) for nic in details.nics],
        securitygroup=[security_group_view(group) for group in details.security_groups],
        affinitygroup=[affinity_group_view(group) for group in details.affinity_groups],
        tags=[tag_view(tag) for tag in details.tags],
        **placement,
    )


async def single_vm(ctx: ServiceContext, vm: VirtualMachine) -> Single:
    """``{"virtualmachine": ...}`` as the caller may see it (root admins: its placement)."""
    (details,) = await details_of(ctx.session, [vm])
    return Single("virtualmachine", vm_view(details, full=ctx.caller.is_root_admin))


async def vm_answer(ctx: ServiceContext, vm_uuid: str) -> Single:
    """The VM as the job leaves it: what ``queryAsyncJobResult`` shows."""
    return await single_vm(ctx, await vm_by_uuid(ctx.session, vm_uuid))


def submitted(payload: vm_jobs.VmPayload) -> Submitted:
    """The answer of a VM job's request: the job, naming the VM it acts on."""
    return Submitted(payload, instance_type=_INSTANCE, instance_uuid=payload.id)


# --- deploy ---


class DeployParams(Params):
    zoneid: Uuid = Field(description="The zone to deploy the VM in")
    serviceofferingid: Uuid = Field(description="The service offering (CPU, memory, host tags)")
    templateid: Uuid = Field(description="The template of the VM's root disk")
    name: HostName | None = Field(
        None, description="Host name of the VM; unique among the account's VMs"
    )
    displayname: str | None = Field(None, max_length=255, description="Free-text name")
    startvm: bool = Field(True, description="Start the VM once deployed (false: leave Stopped)")
    hostid: Uuid | None = Field(None, description="Root admins: the host to start the VM on")
    keypair: str | None = Field(None, max_length=255, description="SSH key pair to install")
    userdata: UserData | None = Field(
        None, description="Base64 user data for the guest (at most 32 KB decoded)"
    )
    affinitygroupids: UuidList | None = Field(None, description="Affinity groups to join")
    affinitygroupnames: CommaList | None = Field(
        None, description="Affinity groups to join, by name"
    )
    securitygroupids: UuidList | None = Field(None, description="Security groups to join")
    securitygroupnames: CommaList | None = Field(
        None, description="Security groups to join, by name (default: the account's default)"
    )
    diskofferingid: Uuid | None = Field(None, description="Disk offering of a data disk")
    size: int | None = Field(None, ge=1, description="Data disk size in GB (custom offering)")
    rootdisksize: int | None = Field(
        None, ge=1, description="Root disk size in GB (default: the template's size)"
    )
    networkids: UuidList | None = Field(
        None, description="Networks to connect (default: the zone's shared guest network)"
    )
    account: str | None = Field(None, description="Admins: deploy for this account")
    domainid: Uuid | None = Field(None, description="The domain of account")
    projectid: Uuid | None = Field(None, description="Deploy the VM for this project")
    group: str | None = Field(
        None, max_length=255, description="Instance group of the VM (created if new)"
    )
    dynamicscalingenabled: bool = Field(
        False, description="The VM may be scaled while it runs (scaleVirtualMachine)"
    )

    def request(self) -> DeployRequest:
        return DeployRequest(
            zone_uuid=self.zoneid,
            service_offering_uuid=self.serviceofferingid,
            template_uuid=self.templateid,
            name=self.name,
            display_name=self.displayname,
            start=self.startvm,
            host_uuid=self.hostid,
            keypair=self.keypair,
            user_data=self.userdata,
            affinity_group_uuids=self.affinitygroupids or (),
            affinity_group_names=self.affinitygroupnames or (),
            security_group_uuids=self.securitygroupids or (),
            security_group_names=self.securitygroupnames or (),
            disk_offering_uuid=self.diskofferingid,
            size_gb=self.size,
            root_disk_size_gb=self.rootdisksize,
            network_uuids=self.networkids or (),
            account=self.account,
            domain_uuid=self.domainid,
            project_uuid=self.projectid,
            group=self.group,
            dynamically_scalable=self.dynamicscalingenabled,
        )


@commands.command(
    "deployVirtualMachine",
    DeployParams,
    description="Creates a VM and, unless startvm is false, starts it on a host",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    related=("listVirtualMachines", "startVirtualMachine"),
    job=Job(vm_jobs.DEPLOY, vm_answer),
)
async def deploy_virtual_machine(ctx: ServiceContext, p: DeployParams) -> Submitted:
    deployed = await deploy_vm(ctx, p.request())
    return submitted(
        vm_jobs.DeployPayload(id=deployed.vm.uuid, start=p.startvm, host_id=deployed.pinned_host_id)
    )


# --- start, stop, reboot ---


class IdParams(Params):
    id: Uuid = Field(description="The VM")


class StartParams(IdParams):
    hostid: Uuid | None = Field(None, description="Root admins: the host to start the VM on")


@commands.command(
    "startVirtualMachine",
    StartParams,
    description="Starts a Stopped VM on a host with room for it",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_jobs.START, vm_answer),
)
async def start_virtual_machine(ctx: ServiceContext, p: StartParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    host_id = await lifecycle.start_on_request(ctx, vm, p.hostid)
    return submitted(vm_jobs.StartPayload(id=vm.uuid, host_id=host_id))


class StopParams(IdParams):
    forced: bool = Field(
        False, description="Mark the VM Stopped even if its host does not confirm the stop"
    )


@commands.command(
    "stopVirtualMachine",
    StopParams,
    description="Stops a Running VM; a Stopped one is answered as it is",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_jobs.STOP, vm_answer),
)
async def stop_virtual_machine(ctx: ServiceContext, p: StopParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    requested = await lifecycle.stop_on_request(ctx, vm)
    return submitted(vm_jobs.StopPayload(id=vm.uuid, forced=p.forced, requested=requested))


@commands.command(
    "rebootVirtualMachine",
    IdParams,
    description="Reboots a Running VM",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_jobs.REBOOT, vm_answer),
)
async def reboot_virtual_machine(ctx: ServiceContext, p: IdParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    lifecycle.require_state(vm, (VmState.RUNNING,), "reboot")
    return submitted(vm_jobs.VmPayload(id=vm.uuid))


# --- destroy, expunge, recover ---


class DestroyParams(IdParams):
    expunge: bool = Field(
        False, description="Admins: expunge at once instead of keeping it (also a Destroyed VM)"
    )
    volumeids: UuidList | None = Field(
        None, description="Data volumes attached to the VM to delete with it"
    )


@commands.command(
    "destroyVirtualMachine",
    DestroyParams,
    description="Destroys a VM; admins may recover it until it is expunged",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_jobs.DESTROY, vm_answer),
)
async def destroy_virtual_machine(ctx: ServiceContext, p: DestroyParams) -> Submitted:
    vm, volumes = await lifecycle.destroy_on_request(ctx, p.id, p.expunge, p.volumeids or ())
    return submitted(
        vm_jobs.DestroyPayload(id=vm.uuid, expunge=p.expunge, volume_ids=tuple(volumes))
    )


@commands.command(
    "expungeVirtualMachine",
    IdParams,
    description="Expunges a Destroyed VM: deletes it and its root disk for good",
    allowed=ADMINS,
    response=SUCCESS,
    job=Job(vm_jobs.EXPUNGE, answer_success),
)
async def expunge_virtual_machine(ctx: ServiceContext, p: IdParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    await lifecycle.move(ctx, vm, (VmState.DESTROYED,), VmState.EXPUNGING, "expunge")
    await lifecycle.record_vm_event(ctx, vm, "VM.EXPUNGE", "Expunging")
    return submitted(vm_jobs.VmPayload(id=vm.uuid))


@commands.command(
    "recoverVirtualMachine",
    IdParams,
    description="Recovers a Destroyed VM; it comes back Stopped",
    allowed=ADMINS,
    response=("virtualmachine", VirtualMachineResponse),
)
async def recover_virtual_machine(ctx: ServiceContext, p: IdParams) -> Single:
    vm = await get_vm(ctx, p.id)
    await lifecycle.recover(ctx, vm)
    return await single_vm(ctx, vm)


# --- settings ---


class ResetKeyParams(IdParams):
    keypair: str = Field(max_length=255, description="Name of the VM owner's key pair to install")
    account: str | None = Field(
        None, description="The key pair's owner (with domainid): one the caller may act for"
    )
    domainid: Uuid | None = Field(None, description="The domain of account")


@commands.command(
    "resetSSHKeyForVirtualMachine",
    ResetKeyParams,
    description="Sets the SSH key pair of a Stopped VM; it is installed at the next start",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    job=Job(vm_jobs.RESET_SSH_KEY, vm_answer),
)
async def reset_ssh_key(ctx: ServiceContext, p: ResetKeyParams) -> Submitted:
    vm = await get_vm(ctx, p.id)
    await named_owner(ctx, p.account, p.domainid)
    lifecycle.require_state(vm, (VmState.STOPPED,), "reset the SSH key of")
    await keypairs.get_keypair(ctx, p.keypair, vm.account_id)
    return submitted(vm_jobs.ResetSshKeyPayload(id=vm.uuid, keypair=p.keypair))


class UpdateParams(IdParams):
    displayname: str | None = Field(None, max_length=255, description="New free-text name")
    group: str | None = Field(
        None, max_length=255, description="New instance group of the VM (created if new)"
    )
    userdata: UserData | None = Field(None, description="New base64 user data (next start)")
    haenable: bool | None = Field(None, description="Restart the VM elsewhere if its host dies")
    isdynamicallyscalable: bool | None = Field(
        None, description="Whether the VM may be scaled while it runs (from its next start)"
    )


@commands.command(
    "updateVirtualMachine",
    UpdateParams,
    description="Updates a VM's display name, group, user data or HA setting",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
)
async def update_virtual_machine(ctx: ServiceContext, p: UpdateParams) -> Single:
    vm = await get_vm(ctx, p.id)
    await lifecycle.update_vm(
        ctx,
        vm,
        display_name=p.displayname,
        group=p.group,
        user_data=p.userdata,
        ha_enabled=p.haenable,
        dynamically_scalable=p.isdynamicallyscalable,
    )
    return await single_vm(ctx, vm)


class UpdateVmGroupsParams(Params):
    id: Uuid = Field(description="The VM, which must be Stopped")
    affinitygroupids: UuidList | None = Field(
        None, description="Its new groups (none: leave every group); or give names"
    )
    affinitygroupnames: CommaList | None = Field(
        None, description="Its new groups by name; or give ids"
    )


@commands.command(
    "updateVMAffinityGroup",
    UpdateVmGroupsParams,
    description="Replaces the affinity groups of a stopped VM; they apply from its next start",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    is_async=True,
)
async def update_vm_groups(ctx: ServiceContext, p: UpdateVmGroupsParams) -> Single:
    vm = await get_vm(ctx, p.id)
    await affinity.replace_groups(ctx, vm, p.affinitygroupids or [], p.affinitygroupnames or [])
    (details,) = await details_of(ctx.session, [vm])
    return Single("virtualmachine", vm_view(details, full=ctx.caller.is_root_admin))


# --- listing ---


class ListVmsParams(ListParams):
    id: Uuid | None = Field(None, description="List the VM of this id")
    ids: UuidList | None = Field(None, description="List the VMs of these ids")
    name: str | None = Field(None, max_length=255, description="List VMs of this name")
    state: VmState | None = Field(None, description="List VMs in this state")
    zoneid: Uuid | None = Field(None, description="List the VMs of this zone")
    hostid: Uuid | None = Field(None, description="Root admins: list the VMs on this host")
    templateid: Uuid | None = Field(None, description="List VMs of this template")
    serviceofferingid: Uuid | None = Field(None, description="List VMs of this offering")
    affinitygroupid: Uuid | None = Field(None, description="List the members of this group")
    groupid: Uuid | None = Field(None, description="List the VMs of this instance group")
    tags: MapParam | None = Field(None, description="List VMs with these tags (key and value)")
    account: str | None = Field(None, description="Admins: list the VMs of this account")
    domainid: Uuid | None = Field(None, description="Admins: list the VMs of this domain")
    isrecursive: bool = Field(False, description="With domainid: include its subdomains")
    projectid: ProjectFilter | None = Field(
        None, description="List the VMs of this project; -1: of every project"
    )


def _tag_pairs(tags: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for index, entry in enumerate(tags or []):
        if "key" not in entry or "value" not in entry:
            raise invalid(f"tags[{index}]", "needs a key and a value")
        pairs.append((entry["key"], entry["value"]))
    return tuple(pairs)


@commands.command(
    "listVirtualMachines",
    ListVmsParams,
    description="Lists the VMs the caller may see",
    allowed=ANYONE,
    response=("virtualmachine", VirtualMachineResponse),
    writes=False,
)
async def list_virtual_machines(ctx: ServiceContext, p: ListVmsParams) -> ListResult:
    full = ctx.caller.is_root_admin
    wanted = VmFilter(
        uuid=p.id,
        uuids=tuple(p.ids or ()),
        name=p.name,
        state=p.state,
        zone_uuid=p.zoneid,
        host_uuid=p.hostid if full else None,
        template_uuid=p.templateid,
        service_offering_uuid=p.serviceofferingid,
        affinity_group_uuid=p.affinitygroupid,
        group_uuid=p.groupid,
        tags=_tag_pairs(p.tags),
        keyword=p.keyword,
        account=p.account,
        domain_uuid=p.domainid,
        recursive=p.isrecursive,
        listall=p.listall,
        project_uuid=p.projectid,
    )
    page = await list_vms(ctx, wanted, page_request(ctx, p))
    details = await details_of(ctx.session, page.items)
    return ListResult("virtualmachine", [vm_view(d, full=full) for d in details], page.total)
