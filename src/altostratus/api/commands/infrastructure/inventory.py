"""Physical inventory commands: zones, pods and clusters.

Only root admins change the inventory or list pods and clusters; anyone lists zones
(``services.zones`` decides which), but only root admins see a zone's DNS servers and
guest CIDR, as in CloudStack's restricted response view.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.declarations import ADMIN, ANYONE, CommandSet
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, Pod, Zone
from altostratus.db.models.inventory import (
    AllocationState,
    ClusterType,
    Hypervisor,
    ManagedState,
    NetworkType,
)
from altostratus.services.infrastructure import clusters, pods, zones
from altostratus.services.infrastructure.pods import PodNetwork
from altostratus.services.infrastructure.zones import ZoneSettings
from altostratus.timeutil import format_timestamp

__all__ = [
    "AddClusterParams",
    "ClusterResponse",
    "CreatePodParams",
    "CreateZoneParams",
    "DeleteParams",
    "ListClustersParams",
    "ListPodsParams",
    "ListZonesParams",
    "PodResponse",
    "UpdateClusterParams",
    "UpdatePodParams",
    "UpdateZoneParams",
    "ZoneResponse",
    "ZoneSettingsParams",
    "add_cluster",
    "cluster_view",
    "commands",
    "create_pod",
    "create_zone",
    "delete_cluster",
    "delete_pod",
    "delete_zone",
    "list_clusters",
    "list_pods",
    "list_zones",
    "pod_view",
    "update_cluster",
    "update_pod",
    "update_zone",
    "zone_view",
]

commands = CommandSet()

# --- address parameters: well-formed here, related to each other in the services ---

_RFC1918 = tuple(IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_DOMAIN_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)


def _parsed(parse: Callable[[str], object], what: str) -> AfterValidator:
    """Validate with ``parse`` (an ``ipaddress`` constructor) and keep its canonical text."""

    def check(value: str) -> str:
        try:
            return str(parse(value))
        except ValueError:
            raise ValueError(f"not a valid {what}") from None

    return AfterValidator(check)


def _netmask(value: str) -> IPv4Address:
    return IPv4Network(f"0.0.0.0/{IPv4Address(value)}").netmask


def _private_network(value: str) -> IPv4Network:
    if "/" not in value:  # ipaddress would read a bare address as a /32
        raise ValueError(value)
    network = IPv4Network(value)
    if not any(network.subnet_of(private) for private in _RFC1918):
        raise ValueError(value)
    return network


def _domain_name(value: str) -> str:
    if not _DOMAIN_NAME.match(value):
        raise ValueError("not a valid DNS domain name")
    return value


Ipv4 = Annotated[str, _parsed(IPv4Address, "IPv4 address")]
Ipv6 = Annotated[str, _parsed(IPv6Address, "IPv6 address")]
Netmask = Annotated[str, _parsed(_netmask, "IPv4 netmask (such as 255.255.255.0)")]
GuestCidr = Annotated[
    str, _parsed(_private_network, "private IPv4 network (RFC 1918) such as 10.1.1.0/24")
]
NetworkDomain = Annotated[str, AfterValidator(_domain_name)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


# --- zones ---


class ZoneResponse(ResponseObject):
    id: str
    name: str
    description: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    internaldns1: str | None = None
    internaldns2: str | None = None
    ip6dns1: str | None = None
    ip6dns2: str | None = None
    guestcidraddress: str | None = None
    networktype: str
    securitygroupsenabled: bool
    allocationstate: str
    localstorageenabled: bool
    #: The zone's network domain (not the dedicated domain: that is ``domainid``).
    domain: str | None = None
    domainid: str | None = None
    domainname: str | None = None
    dhcpprovider: str = "VirtualRouter"
    created: str


def zone_view(zone: Zone, *, full: bool) -> ZoneResponse:
    """``full`` (root admins) adds the DNS servers and guest CIDR."""
    addressing = (
        {
            "dns1": zone.dns1,
            "dns2": zone.dns2,
            "internaldns1": zone.internal_dns1,
            "internaldns2": zone.internal_dns2,
            "ip6dns1": zone.ip6_dns1,
            "ip6dns2": zone.ip6_dns2,
            "guestcidraddress": zone.guest_cidr,
        }
        if full
        else {}
    )
    return ZoneResponse(
        id=zone.uuid,
        name=zone.name,
        description=zone.description,
        networktype=zone.network_type,
        securitygroupsenabled=zone.security_group_enabled,
        allocationstate=zone.allocation_state,
        localstorageenabled=zone.local_storage_enabled,
        domain=zone.network_domain,
        domainid=zone.domain.uuid if zone.domain else None,
        domainname=zone.domain.name if zone.domain else None,
        created=format_timestamp(zone.created),
        **addressing,
    )


class ZoneSettingsParams(Params):
    """What createZone and updateZone share; createZone makes the first three required."""

    name: Name | None = Field(None, description="New name of the zone")
    dns1: Ipv4 | None = Field(None, description="First DNS server for guests")
    internaldns1: Ipv4 | None = Field(None, description="First DNS server for system VMs")
    description: str | None = Field(None, max_length=1024, description="Description of the zone")
    dns2: Ipv4 | None = Field(None, description="Second DNS server for guests")
    internaldns2: Ipv4 | None = Field(None, description="Second DNS server for system VMs")
    ip6dns1: Ipv6 | None = Field(None, description="First IPv6 DNS server for guests")
    ip6dns2: Ipv6 | None = Field(None, description="Second IPv6 DNS server for guests")
    domain: NetworkDomain | None = Field(None, description="Network domain of the zone's guests")
    guestcidraddress: GuestCidr | None = Field(None, description="Guest CIDR (Advanced zones)")
    allocationstate: AllocationState | None = Field(
        None, description="Enabled or Disabled (Disabled: only root admins see and use it)"
    )
    localstorageenabled: bool | None = Field(
        None, description="Whether VMs may use the hosts' local disks"
    )

    def settings(self) -> ZoneSettings:
        return ZoneSettings(
            name=self.name,
            description=self.description,
            dns1=self.dns1,
            dns2=self.dns2,
            internal_dns1=self.internaldns1,
            internal_dns2=self.internaldns2,
            ip6_dns1=self.ip6dns1,
            ip6_dns2=self.ip6dns2,
            guest_cidr=self.guestcidraddress,
            network_domain=self.domain,
            allocation_state=self.allocationstate,
            local_storage_enabled=self.localstorageenabled,
        )


class CreateZoneParams(ZoneSettingsParams):
    name: Name = Field(description="Name of the zone; unique in the region")
    dns1: Ipv4 = Field(description="First DNS server for guests")
    internaldns1: Ipv4 = Field(description="First DNS server for system VMs")
    networktype: NetworkType = Field(description="Basic or Advanced")
    domainid: Uuid | None = Field(None, description="Dedicate the zone to this domain")
    securitygroupenabled: bool = Field(False, description="Whether the zone uses security groups")


@commands.command(
    "createZone",
    CreateZoneParams,
    description="Creates a zone",
    allowed=ADMIN,
    response="zone",
    related=("listZones",),
)
async def create_zone(ctx: ServiceContext, p: CreateZoneParams) -> Single:
    zone = await zones.create_zone(
        ctx,
        name=p.name,
        network_type=p.networktype,
        dns1=p.dns1,
        internal_dns1=p.internaldns1,
        security_group_enabled=p.securitygroupenabled,
        dedicated_domain_uuid=p.domainid,
        settings=p.settings(),
    )
    return Single("zone", zone_view(zone, full=True))


class UpdateZoneParams(ZoneSettingsParams):
    id: Uuid = Field(description="The zone to update")


@commands.command(
    "updateZone",
    UpdateZoneParams,
    description="Updates a zone",
    allowed=ADMIN,
    response="zone",
    related=("listZones",),
)
async def update_zone(ctx: ServiceContext, p: UpdateZoneParams) -> Single:
    zone = await zones.update_zone(ctx, zone_uuid=p.id, changes=p.settings())
    return Single("zone", zone_view(zone, full=True))


class DeleteParams(Params):
    id: Uuid = Field(description="The id of the object to delete")


@commands.command(
    "deleteZone",
    DeleteParams,
    description="Deletes a zone that has no pods",
    allowed=ADMIN,
    response="success",
)
async def delete_zone(ctx: ServiceContext, p: DeleteParams) -> Success:
    await zones.delete_zone(ctx, zone_uuid=p.id)
    return Success()


class ListZonesParams(ListParams):
    id: Uuid | None = Field(None, description="List the zone of this id")
    name: str | None = Field(None, max_length=255, description="List the zone of this name")
    available: bool = Field(False, description="List only zones open for deployment (Enabled)")
    networktype: NetworkType | None = Field(None, description="Basic or Advanced")
    domainid: Uuid | None = Field(None, description="List zones dedicated to this domain")
    showcapacities: bool = Field(
        False, description="Accepted; capacities are reported once the zone has hosts"
    )


@commands.command(
    "listZones",
    ListZonesParams,
    description="Lists the zones the caller may use",
    allowed=ANYONE,
    response="zone",
    writes=False,
)
async def list_zones(ctx: ServiceContext, p: ListZonesParams) -> ListResult:
    page = await zones.list_zones(
        ctx,
        zone_uuid=p.id,
        name=p.name,
        available=p.available,
        network_type=p.networktype,
        domain_uuid=p.domainid,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    full = ctx.caller.is_root_admin
    return ListResult("zone", [zone_view(z, full=full) for z in page.items], page.total)


# --- pods ---


class PodResponse(ResponseObject):
    id: str
    name: str
    zoneid: str
    zonename: str
    gateway: str
    netmask: str
    startip: str | None = None
    endip: str | None = None
    allocationstate: str


def pod_view(pod: Pod) -> PodResponse:
    return PodResponse(
        id=pod.uuid,
        name=pod.name,
        zoneid=pod.zone.uuid,
        zonename=pod.zone.name,
        gateway=pod.gateway,
        netmask=pod.netmask,
        startip=pod.start_ip,
        endip=pod.end_ip,
        allocationstate=pod.allocation_state,
    )


class CreatePodParams(Params):
    zoneid: Uuid = Field(description="The zone of the pod")
    name: Name = Field(description="Name of the pod; unique in its zone")
    gateway: Ipv4 = Field(description="Gateway of the pod's management subnet")
    netmask: Netmask = Field(description="Netmask of the pod's management subnet")
    startip: Ipv4 | None = Field(None, description="First address the cloud may use")
    endip: Ipv4 | None = Field(
        None, description="Last address the cloud may use (default: the subnet's last)"
    )
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "createPod",
    CreatePodParams,
    description="Creates a pod in a zone",
    allowed=ADMIN,
    response="pod",
    related=("listPods",),
)
async def create_pod(ctx: ServiceContext, p: CreatePodParams) -> Single:
    pod = await pods.create_pod(
        ctx,
        zone_uuid=p.zoneid,
        name=p.name,
        network=PodNetwork(p.gateway, p.netmask, p.startip, p.endip),
        allocation_state=p.allocationstate,
    )
    return Single("pod", pod_view(pod))


class UpdatePodParams(Params):
    id: Uuid = Field(description="The pod to update")
    name: Name | None = Field(None, description="New name of the pod")
    gateway: Ipv4 | None = Field(None, description="Gateway of the pod's management subnet")
    netmask: Netmask | None = Field(None, description="Netmask of the pod's management subnet")
    startip: Ipv4 | None = Field(None, description="First address the cloud may use")
    endip: Ipv4 | None = Field(None, description="Last address the cloud may use")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "updatePod",
    UpdatePodParams,
    description="Updates a pod",
    allowed=ADMIN,
    response="pod",
    related=("listPods",),
)
async def update_pod(ctx: ServiceContext, p: UpdatePodParams) -> Single:
    pod = await pods.update_pod(
        ctx,
        pod_uuid=p.id,
        name=p.name,
        gateway=p.gateway,
        netmask=p.netmask,
        start_ip=p.startip,
        end_ip=p.endip,
        allocation_state=p.allocationstate,
    )
    return Single("pod", pod_view(pod))


@commands.command(
    "deletePod",
    DeleteParams,
    description="Deletes a pod that has no clusters",
    allowed=ADMIN,
    response="success",
)
async def delete_pod(ctx: ServiceContext, p: DeleteParams) -> Success:
    await pods.delete_pod(ctx, pod_uuid=p.id)
    return Success()


class ListPodsParams(ListParams):
    id: Uuid | None = Field(None, description="List the pod of this id")
    name: str | None = Field(None, max_length=255, description="List pods of this name")
    zoneid: Uuid | None = Field(None, description="List the pods of this zone")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "listPods",
    ListPodsParams,
    description="Lists pods",
    allowed=ADMIN,
    response="pod",
    writes=False,
)
async def list_pods(ctx: ServiceContext, p: ListPodsParams) -> ListResult:
    page = await pods.list_pods(
        ctx,
        pod_uuid=p.id,
        name=p.name,
        zone_uuid=p.zoneid,
        allocation_state=p.allocationstate,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("pod", [pod_view(pod) for pod in page.items], page.total)


# --- clusters ---


class ClusterResponse(ResponseObject):
    id: str
    name: str
    podid: str
    podname: str
    zoneid: str
    zonename: str
    hypervisortype: str
    clustertype: str
    allocationstate: str
    managedstate: str


def cluster_view(cluster: Cluster) -> ClusterResponse:
    return ClusterResponse(
        id=cluster.uuid,
        name=cluster.name,
        podid=cluster.pod.uuid,
        podname=cluster.pod.name,
        zoneid=cluster.pod.zone.uuid,
        zonename=cluster.pod.zone.name,
        hypervisortype=cluster.hypervisor,
        clustertype=cluster.cluster_type,
        allocationstate=cluster.allocation_state,
        managedstate=cluster.managed_state,
    )


class AddClusterParams(Params):
    zoneid: Uuid = Field(description="The zone of the cluster")
    podid: Uuid = Field(description="The pod of the cluster; must be in the zone")
    clustername: Name = Field(description="Name of the cluster; unique in its pod")
    clustertype: ClusterType = Field(description="CloudManaged or ExternalManaged")
    hypervisor: Hypervisor = Field(
        description="KVM, XenServer, VMware, Hyperv, LXC, Ovm3 or Simulator"
    )
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")
    url: str | None = Field(None, description="URL of an external manager (accepted, unused)")
    username: str | None = Field(None, description="External manager user (accepted, unused)")
    password: str | None = Field(None, description="External manager password (accepted, unused)")


@commands.command(
    "addCluster",
    AddClusterParams,
    description="Adds a cluster to a pod",
    allowed=ADMIN,
    response="cluster",
    related=("listClusters",),
)
async def add_cluster(ctx: ServiceContext, p: AddClusterParams) -> ListResult:
    """Answered as a one-item list, as CloudStack does (clients read ``cluster[0]``)."""
    cluster = await clusters.add_cluster(
        ctx,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
        name=p.clustername,
        cluster_type=p.clustertype,
        hypervisor=p.hypervisor,
        allocation_state=p.allocationstate,
    )
    return ListResult("cluster", [cluster_view(cluster)], 1)


class UpdateClusterParams(Params):
    id: Uuid = Field(description="The cluster to update")
    clustername: Name | None = Field(None, description="New name of the cluster")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")
    managedstate: ManagedState | None = Field(None, description="Managed or Unmanaged")
    clustertype: ClusterType | None = Field(None, description="CloudManaged or ExternalManaged")
    hypervisor: Hypervisor | None = Field(None, description="Hypervisor type of the cluster")


@commands.command(
    "updateCluster",
    UpdateClusterParams,
    description="Updates a cluster",
    allowed=ADMIN,
    response="cluster",
    related=("listClusters",),
)
async def update_cluster(ctx: ServiceContext, p: UpdateClusterParams) -> Single:
    cluster = await clusters.update_cluster(
        ctx,
        cluster_uuid=p.id,
        name=p.clustername,
        allocation_state=p.allocationstate,
        managed_state=p.managedstate,
        cluster_type=p.clustertype,
        hypervisor=p.hypervisor,
    )
    return Single("cluster", cluster_view(cluster))


@commands.command(
    "deleteCluster",
    DeleteParams,
    description="Deletes a cluster",
    allowed=ADMIN,
    response="success",
)
async def delete_cluster(ctx: ServiceContext, p: DeleteParams) -> Success:
    await clusters.delete_cluster(ctx, cluster_uuid=p.id)
    return Success()


class ListClustersParams(ListParams):
    id: Uuid | None = Field(None, description="List the cluster of this id")
    name: str | None = Field(None, max_length=255, description="List clusters of this name")
    zoneid: Uuid | None = Field(None, description="List the clusters of this zone")
    podid: Uuid | None = Field(None, description="List the clusters of this pod")
    hypervisor: Hypervisor | None = Field(None, description="List clusters of this hypervisor")
    clustertype: ClusterType | None = Field(None, description="CloudManaged or ExternalManaged")
    allocationstate: AllocationState | None = Field(None, description="Enabled or Disabled")
    managedstate: ManagedState | None = Field(None, description="Managed or Unmanaged")


@commands.command(
    "listClusters",
    ListClustersParams,
    description="Lists clusters",
    allowed=ADMIN,
    response="cluster",
    writes=False,
)
async def list_clusters(ctx: ServiceContext, p: ListClustersParams) -> ListResult:
    page = await clusters.list_clusters(
        ctx,
        cluster_uuid=p.id,
        name=p.name,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
        hypervisor=p.hypervisor,
        cluster_type=p.clustertype,
        allocation_state=p.allocationstate,
        managed_state=p.managedstate,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("cluster", [cluster_view(c) for c in page.items], page.total)
