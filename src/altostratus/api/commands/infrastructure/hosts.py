"""Hosts and their agents: addHost, updateHost, deleteHost, maintenance, listHosts.

Root admins only, as in CloudStack. ``state`` follows the agent's heartbeats;
``resourcestate`` follows these commands. Maintenance and reconnection change the host
in the request (so bad input never creates a job) and their jobs
(``services.infrastructure.jobs``) wait for the outcome.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from pydantic import Field

from altostratus.api.commands.ha.host_ha import HostHaResponse, host_ha_view
from altostratus.api.commands.ha.oobm import OutOfBandManagementResponse, oobm_view
from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet, Job
from altostratus.api.params import CommaList, ListParams, MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Host, HostHa, OutOfBandManagement
from altostratus.db.models.hosts import HostState, ResourceState
from altostratus.db.models.inventory import Hypervisor
from altostratus.errors import invalid
from altostratus.ha.hosts import config as ha_config
from altostratus.ha.oobm.service import rows_for_hosts
from altostratus.services.compute import maintenance
from altostratus.services.infrastructure import hosts
from altostratus.services.infrastructure import jobs as host_jobs
from altostratus.services.infrastructure.hosts import HostSpec
from altostratus.timeutil import format_timestamp

__all__ = [
    "AddHostParams",
    "AllocationChange",
    "DeleteHostParams",
    "HostIdParams",
    "HostResponse",
    "ListHostsParams",
    "UpdateHostParams",
    "add_host",
    "cancel_host_maintenance",
    "commands",
    "delete_host",
    "host_view",
    "host_views",
    "list_hosts",
    "prepare_host_for_maintenance",
    "reconnect_host",
    "update_host",
]

commands = CommandSet()


class HostResponse(ResponseObject):
    id: str
    name: str
    zoneid: str
    zonename: str
    podid: str
    podname: str
    clusterid: str
    clustername: str
    clustertype: str = "CloudManaged"
    hypervisor: str
    hypervisorversion: str | None = None
    state: str
    resourcestate: str
    type: str = "Routing"
    hosttags: str | None = None
    cpunumber: int
    cpuspeed: int
    cpuallocated: str
    cpuallocatedvalue: int
    cpuallocatedpercentage: str
    memorytotal: int
    memoryallocated: int
    memoryallocatedbytes: int
    memoryallocatedpercentage: str
    ipaddress: str
    version: str | None = None
    lastpinged: str | None = None
    disconnected: str | None = None
    islocalstorageactive: bool = False
    hostha: HostHaResponse
    created: str
    #: The BMC's settings (never its password); listHosts answers it for every host.
    #: The BMC's settings (never its password).
    outofbandmanagement: OutOfBandManagementResponse


def _percent(used: int, total: int) -> str:
    return f"{(100.0 * used / total) if total else 0.0:.2f}%"


def host_view(
    host: Host, ha: HostHa | None = None, bmc: OutOfBandManagement | None = None
) -> HostResponse:
    """The host with its HA resource and its BMC's settings, if it has them."""
    memory_total = host.memory_mb * 1024 * 1024
    memory_allocated = host.memory_allocated_mb * 1024 * 1024
    cpu_allocated = _percent(host.cpu_allocated_mhz, host.cpu_total_mhz)
    down = host.state in (HostState.DISCONNECTED, HostState.DOWN)
    return HostResponse(
        id=host.uuid,
        name=host.name,
        zoneid=host.zone.uuid,
        zonename=host.zone.name,
        podid=host.pod.uuid,
        podname=host.pod.name,
        clusterid=host.cluster.uuid,
        clustername=host.cluster.name,
        hypervisor=host.hypervisor,
        hypervisorversion=host.hypervisor_version,
        state=host.state,
        resourcestate=host.resource_state,
        hosttags=host.host_tags or None,
        cpunumber=host.cpu_number,
        cpuspeed=host.cpu_speed,
        cpuallocated=cpu_allocated,
        cpuallocatedvalue=host.cpu_allocated_mhz,
        cpuallocatedpercentage=cpu_allocated,
        memorytotal=memory_total,
        memoryallocated=memory_allocated,
        memoryallocatedbytes=memory_allocated,
        memoryallocatedpercentage=_percent(memory_allocated, memory_total),
        ipaddress=hosts.host_address(host),
        version=host.agent_version or host.hypervisor_version,
        lastpinged=format_timestamp(host.last_heartbeat) if host.last_heartbeat else None,
        disconnected=format_timestamp(host.state_changed) if down and host.state_changed else None,
        hostha=host_ha_view(host, ha),
        created=format_timestamp(host.created),
        outofbandmanagement=oobm_view(bmc),
    )


async def host_views(ctx: ServiceContext, found: Sequence[Host]) -> list[HostResponse]:
    """``host_view`` of each host, their HA resources and BMCs read in one query each."""
    ids = [host.id for host in found]
    ha = await ha_config.resources_of(ctx.session, ids)
    bmcs = await rows_for_hosts(ctx.session, ids)
    return [host_view(host, ha.get(host.id), bmcs.get(host.id)) for host in found]


class AllocationChange(enum.StrEnum):
    ENABLE = "Enable"
    DISABLE = "Disable"

    @classmethod
    def _missing_(cls, value: object) -> AllocationChange | None:
        wanted = str(value).lower()
        return next((member for member in cls if member.value.lower() == wanted), None)


# --- addHost ---


_DETAILS = {"cpunumber": "cpu_number", "cpuspeed": "cpu_speed", "memory": "memory_mb"}


def _details(entries: list[dict[str, str]]) -> dict[str, int]:
    """``details[0].cpunumber=4`` and friends as whole numbers, or a 431 naming them."""
    known = {**_DETAILS, "latency": "latency_ms"}
    read: dict[str, int] = {}
    for index, entry in enumerate(entries):
        for key, value in entry.items():
            if key not in known:
                continue
            try:
                number = int(value)
            except ValueError:
                number = -1
            if number < 0 or (number == 0 and key != "latency"):
                raise invalid(f"details[{index}].{key}", "not a positive whole number", value=value)
            read[known[key]] = number
    return read


class AddHostParams(Params):
    zoneid: Uuid = Field(description="The zone of the host")
    podid: Uuid = Field(description="The pod of the host; must be in the zone")
    clusterid: Uuid = Field(description="The cluster of the host; must be in the pod")
    url: str = Field(
        min_length=1,
        max_length=1024,
        description="sim://NAME for a simulated host; else the host's address (agent's name)",
    )
    hypervisor: Hypervisor = Field(description="The cluster's hypervisor: KVM or Simulator")
    hosttags: CommaList | None = Field(None, description="Tags of the host (its aggregates)")
    username: str | None = Field(None, description="Accepted for compatibility; not used")
    password: str | None = Field(None, description="Accepted for compatibility; not used")
    allocationstate: AllocationChange | None = Field(
        None, description="Enable (default) or Disable the host for new VMs"
    )
    details: MapParam | None = Field(
        None,
        description="Simulated hosts: details[0].cpunumber, .cpuspeed (MHz), .memory (MB), "
        ".latency (ms per command)",
    )


@commands.command(
    "addHost",
    AddHostParams,
    description="Adds a host; a Simulator host is brought Up by the in-process simulator",
    allowed=ADMIN,
    response=("host", HostResponse),
    related=("listHosts",),
)
async def add_host(ctx: ServiceContext, p: AddHostParams) -> ListResult:
    host = await hosts.add_host(
        ctx,
        HostSpec(
            zone_uuid=p.zoneid,
            pod_uuid=p.podid,
            cluster_uuid=p.clusterid,
            url=p.url,
            hypervisor=p.hypervisor,
            host_tags=p.hosttags or [],
            **_details(p.details or []),
        ),
    )
    if p.allocationstate is AllocationChange.DISABLE:
        host = await hosts.update_host(ctx, host.uuid, enable=False, host_tags=None, name=None)
    return ListResult("host", await host_views(ctx, [host]), 1)


# --- updateHost, deleteHost, listHosts ---


class UpdateHostParams(Params):
    id: Uuid = Field(description="The host to update")
    allocationstate: AllocationChange | None = Field(
        None, description="Enable or Disable the host for new VMs"
    )
    hosttags: CommaList | None = Field(None, description="Replace the host's tags")
    name: str | None = Field(None, min_length=1, max_length=255, description="New name")


@commands.command(
    "updateHost",
    UpdateHostParams,
    description="Updates a host: allocation state, tags, name",
    allowed=ADMIN,
    response=("host", HostResponse),
    related=("listHosts",),
)
async def update_host(ctx: ServiceContext, p: UpdateHostParams) -> Single:
    enable = None if p.allocationstate is None else p.allocationstate is AllocationChange.ENABLE
    host = await hosts.update_host(ctx, p.id, enable=enable, host_tags=p.hosttags, name=p.name)
    return Single("host", (await host_views(ctx, [host]))[0])


class DeleteHostParams(Params):
    id: Uuid = Field(description="The host to delete")
    forced: bool = Field(False, description="Delete even if VMs are placed on it (they stop)")
    forcedestroylocalstorage: bool = Field(False, description="Accepted; no local storage here")


@commands.command(
    "deleteHost",
    DeleteHostParams,
    description="Deletes a host; refused while it holds VMs unless forced",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_host(ctx: ServiceContext, p: DeleteHostParams) -> Success:
    await hosts.delete_host(ctx, p.id, forced=p.forced)
    return Success()


class ListHostsParams(ListParams):
    id: Uuid | None = Field(None, description="List the host of this id")
    name: str | None = Field(None, max_length=255, description="List hosts of this name")
    zoneid: Uuid | None = Field(None, description="List the hosts of this zone")
    podid: Uuid | None = Field(None, description="List the hosts of this pod")
    clusterid: Uuid | None = Field(None, description="List the hosts of this cluster")
    state: HostState | None = Field(None, description="Up, Connecting, Disconnected, Down, Alert")
    resourcestate: ResourceState | None = Field(
        None, description="Enabled, Disabled, PrepareForMaintenance, Maintenance, …"
    )
    hypervisor: Hypervisor | None = Field(None, description="List hosts of this hypervisor")
    type: str | None = Field(None, max_length=64, description="Routing (the only type here)")


@commands.command(
    "listHosts",
    ListHostsParams,
    description="Lists hosts",
    allowed=ADMIN,
    response=("host", HostResponse),
    writes=False,
)
async def list_hosts(ctx: ServiceContext, p: ListHostsParams) -> ListResult:
    page = await hosts.list_hosts(
        ctx,
        host_uuid=p.id,
        name=p.name,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
        cluster_uuid=p.clusterid,
        state=p.state,
        resource_state=p.resourcestate,
        hypervisor=p.hypervisor,
        host_type=p.type,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("host", await host_views(ctx, page.items), page.total)


# --- maintenance and reconnection (asynchronous) ---


class HostIdParams(Params):
    id: Uuid = Field(description="The host")


def _submitted(host: Host) -> Submitted:
    return Submitted(
        host_jobs.HostPayload(id=host.uuid), instance_type="Host", instance_uuid=host.uuid
    )


async def _host_answer(ctx: ServiceContext, host_uuid: str) -> Single:
    return Single("host", (await host_views(ctx, [await hosts.get_host(ctx, host_uuid)]))[0])


@commands.command(
    "prepareHostForMaintenance",
    HostIdParams,
    description="Stops the host's VMs and puts it in maintenance",
    allowed=ADMIN,
    response=("host", HostResponse),
    job=Job(maintenance.PREPARE_MAINTENANCE, _host_answer),
)
async def prepare_host_for_maintenance(ctx: ServiceContext, p: HostIdParams) -> Submitted:
    return _submitted(await hosts.start_maintenance(ctx, p.id))


@commands.command(
    "cancelHostMaintenance",
    HostIdParams,
    description="Takes the host out of maintenance (Enabled)",
    allowed=ADMIN,
    response=("host", HostResponse),
    job=Job(host_jobs.CANCEL_MAINTENANCE, _host_answer),
)
async def cancel_host_maintenance(ctx: ServiceContext, p: HostIdParams) -> Submitted:
    return _submitted(await hosts.cancel_maintenance(ctx, p.id))


@commands.command(
    "reconnectHost",
    HostIdParams,
    description="Makes the host's agent connect again (Connecting until its next heartbeat)",
    allowed=ADMIN,
    response=("host", HostResponse),
    job=Job(host_jobs.RECONNECT, _host_answer),
)
async def reconnect_host(ctx: ServiceContext, p: HostIdParams) -> Submitted:
    return _submitted(await hosts.start_reconnect(ctx, p.id))
