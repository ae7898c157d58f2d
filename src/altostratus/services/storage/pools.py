"""Primary storage pools (``listStoragePools``), read from the clusters that hold them.

A cluster's hosts share one primary storage: the disks of its VMs live there, which is
why a VM moves freely between them (``compute.migration``). Hosts do not report that
storage, so each cluster answers one pool of cluster scope, whose id is derived from the
cluster's (stable across servers and restarts), whose size is the region's
``primary_storage_gb`` and whose allocation is the size of the live volumes its hosts
hold. It is Up while one of the cluster's hosts is. Nothing here is stored or changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest
from altostratus.db.models import Cluster, Host, Volume
from altostratus.db.models.compute import VolumeState
from altostratus.db.models.hosts import HostState

__all__ = ["StorageFilter", "StoragePool", "list_pools", "pool_uuid"]

#: The namespace of pool ids: ``uuid5(namespace, cluster uuid)``.
_NAMESPACE = uuid.UUID("0b7d3c52-9a59-4c77-a0d0-6f1f6c1e5a10")
#: CloudStack's pool type of a mount every host of the cluster shares.
_TYPE = "SharedMountPoint"
GIB = 1024**3


def pool_uuid(cluster_uuid: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, cluster_uuid))


@dataclass(frozen=True)
class StoragePool:
    uuid: str
    name: str
    cluster: Cluster
    state: str
    type: str
    scope: str
    total_bytes: int
    allocated_bytes: int


@dataclass(frozen=True)
class StorageFilter:
    uuid: str | None = None
    name: str | None = None
    zone_uuid: str | None = None
    pod_uuid: str | None = None
    cluster_uuid: str | None = None
    scope: str | None = None
    keyword: str | None = None

    def matches(self, pool: StoragePool) -> bool:
        cluster = pool.cluster
        wanted = (
            (self.uuid, pool.uuid),
            (self.name, pool.name),
            (self.zone_uuid, cluster.pod.zone.uuid),
            (self.pod_uuid, cluster.pod.uuid),
            (self.cluster_uuid, cluster.uuid),
            (self.scope and self.scope.upper(), pool.scope),
        )
        if any(given is not None and given != actual for given, actual in wanted):
            return False
        return self.keyword is None or self.keyword.lower() in pool.name.lower()


async def _allocated(ctx: ServiceContext) -> dict[int, int]:
    """Bytes of the live volumes each cluster's hosts hold."""
    rows = await ctx.session.execute(
        select(Host.cluster_id, func.sum(Volume.size))
        .join(Host, Volume.host_id == Host.id)
        .where(Volume.removed.is_(None), Volume.state != VolumeState.EXPUNGED)
        .group_by(Host.cluster_id)
    )
    return {cluster_id: int(total or 0) for cluster_id, total in rows}


async def _up_clusters(ctx: ServiceContext) -> set[int]:
    found = await ctx.session.scalars(
        select(Host.cluster_id).where(Host.state == HostState.UP, Host.removed.is_(None)).distinct()
    )
    return set(found)


async def list_pools(
    ctx: ServiceContext, wanted: StorageFilter, page: PageRequest
) -> Page[StoragePool]:
    clusters: Sequence[Cluster] = (
        await ctx.session.scalars(select(Cluster).order_by(Cluster.id))
    ).all()
    allocated, up = await _allocated(ctx), await _up_clusters(ctx)
    total = ctx.deps.settings.primary_storage_gb * GIB
    pools = [
        StoragePool(
            uuid=pool_uuid(cluster.uuid),
            name=f"{cluster.name}-primary",
            cluster=cluster,
            state="Up" if cluster.id in up else "Down",
            type=_TYPE,
            scope="CLUSTER",
            total_bytes=total,
            allocated_bytes=allocated.get(cluster.id, 0),
        )
        for cluster in clusters
    ]
    matching = [pool for pool in pools if wanted.matches(pool)]
    return Page(list(page.slice(matching)), len(matching))
