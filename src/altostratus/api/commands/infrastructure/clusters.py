"""Cluster commands: root admins only, as clusters are the physical layout of a pod."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.address_params import Name
from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet
from altostratus.api.params import DeleteParams, ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster
from altostratus.db.models.inventory import (
    AllocationState,
    ClusterType,
    Hypervisor,
    ManagedState,
)
from altostratus.services.infrastructure import clusters

__all__ = [
    "AddClusterParams",
    "ClusterResponse",
    "ListClustersParams",
    "UpdateClusterParams",
    "add_cluster",
    "cluster_view",
    "commands",
    "delete_cluster",
    "list_clusters",
    "update_cluster",
]

commands = CommandSet()


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
    response=("cluster", ClusterResponse),
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
    response=("cluster", ClusterResponse),
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
    response=SUCCESS,
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
    response=("cluster", ClusterResponse),
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
