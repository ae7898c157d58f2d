"""``listStoragePools``: the primary storage the hosts use (root admins; read-only)."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, CommandSet
from altostratus.api.params import ListParams, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject
from altostratus.core.context import ServiceContext
from altostratus.services.storage.pools import StorageFilter, StoragePool, list_pools
from altostratus.timeutil import format_timestamp

__all__ = [
    "ListPoolsParams",
    "StoragePoolResponse",
    "commands",
    "list_storage_pools",
    "storage_pool_view",
]

commands = CommandSet()


class StoragePoolResponse(ResponseObject):
    id: str
    name: str
    zoneid: str
    zonename: str
    podid: str
    podname: str
    clusterid: str
    clustername: str
    state: str
    type: str
    scope: str
    hypervisor: str
    created: str
    disksizetotal: int = Field(description="the pool's size in bytes")
    disksizeallocated: int = Field(description="bytes of the volumes it holds")


def storage_pool_view(pool: StoragePool) -> StoragePoolResponse:
    cluster = pool.cluster
    pod = cluster.pod
    return StoragePoolResponse(
        id=pool.uuid,
        name=pool.name,
        zoneid=pod.zone.uuid,
        zonename=pod.zone.name,
        podid=pod.uuid,
        podname=pod.name,
        clusterid=cluster.uuid,
        clustername=cluster.name,
        state=pool.state,
        type=pool.type,
        scope=pool.scope,
        hypervisor=cluster.hypervisor,
        created=format_timestamp(cluster.created),
        disksizetotal=pool.total_bytes,
        disksizeallocated=pool.allocated_bytes,
    )


class ListPoolsParams(ListParams):
    id: Uuid | None = Field(None, description="List the pool of this id")
    name: str | None = Field(None, max_length=255, description="List the pool of this name")
    zoneid: Uuid | None = Field(None, description="List the pools of this zone")
    podid: Uuid | None = Field(None, description="List the pools of this pod")
    clusterid: Uuid | None = Field(None, description="List the pool of this cluster")
    scope: str | None = Field(None, max_length=32, description="CLUSTER (the only scope here)")


@commands.command(
    "listStoragePools",
    ListPoolsParams,
    description="Lists the primary storage pools: one per cluster, shared by its hosts",
    allowed=ADMIN,
    response=("storagepool", StoragePoolResponse),
    writes=False,
)
async def list_storage_pools(ctx: ServiceContext, p: ListPoolsParams) -> ListResult:
    wanted = StorageFilter(
        uuid=p.id,
        name=p.name,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
        cluster_uuid=p.clusterid,
        scope=p.scope,
        keyword=p.keyword,
    )
    page = await list_pools(ctx, wanted, page_request(ctx, p))
    return ListResult("storagepool", [storage_pool_view(pool) for pool in page.items], page.total)
