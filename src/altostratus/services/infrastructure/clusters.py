"""Clusters: ``addCluster``, ``updateCluster``, ``deleteCluster`` and ``listClusters``.

A cluster is a set of hosts of one hypervisor type in one pod, sharing primary storage
(so VMs move freely between them). ``url``, ``username`` and ``password`` of
``addCluster`` name an external manager (vCenter); we keep no connection to one.
"""

from __future__ import annotations

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Cluster, Host, Pod, Zone
from altostratus.db.models.inventory import (
    AllocationState,
    ClusterType,
    Hypervisor,
    ManagedState,
)
from altostratus.errors import ResourceInUse, invalid
from altostratus.services.infrastructure.hosts import forget_removed_hosts
from altostratus.services.shared.lookup import ensure_name_free, find_by_uuid, record_change

__all__ = ["add_cluster", "delete_cluster", "list_clusters", "update_cluster"]


async def _check_name(ctx: ServiceContext, pod: Pod, name: str, cluster: Cluster | None) -> None:
    await ensure_name_free(
        ctx,
        Cluster,
        name,
        Cluster.pod_id == pod.id,
        parameter="clustername",
        where=f" in pod {pod.name}",
        renamed=cluster,
    )


async def add_cluster(
    ctx: ServiceContext,
    *,
    zone_uuid: str,
    pod_uuid: str,
    name: str,
    cluster_type: ClusterType,
    hypervisor: Hypervisor,
    allocation_state: AllocationState | None,
) -> Cluster:
    """A new, Managed cluster; the pod must belong to the zone given with it."""
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    pod = await find_by_uuid(ctx, Pod, pod_uuid, "podid")
    if pod.zone_id != zone.id:
        raise invalid(
            "podid",
            f"pod {pod.name} is in zone {pod.zone.name}, not in zone {zone.name}",
            value=pod_uuid,
        )
    await _check_name(ctx, pod, name, None)
    cluster = Cluster(
        name=name,
        pod=pod,
        cluster_type=cluster_type,
        hypervisor=hypervisor,
        allocation_state=allocation_state or AllocationState.ENABLED,
        managed_state=ManagedState.MANAGED,
    )
    ctx.session.add(cluster)
    await ctx.session.flush()
    await record_change(ctx, cluster, "CREATE")
    return cluster


async def update_cluster(
    ctx: ServiceContext,
    *,
    cluster_uuid: str,
    name: str | None,
    allocation_state: AllocationState | None,
    managed_state: ManagedState | None,
    cluster_type: ClusterType | None,
    hypervisor: Hypervisor | None,
) -> Cluster:
    """Change what is given.

    Hosts arrive in a later issue: once they do, changing ``hypervisor`` of a cluster
    that has hosts must be refused here.
    """
    cluster = await find_by_uuid(ctx, Cluster, cluster_uuid, "id")
    if name is not None:
        await _check_name(ctx, cluster.pod, name, cluster)
        cluster.name = name
    if allocation_state is not None:
        cluster.allocation_state = allocation_state
    if managed_state is not None:
        cluster.managed_state = managed_state
    if cluster_type is not None:
        cluster.cluster_type = cluster_type
    if hypervisor is not None:
        cluster.hypervisor = hypervisor
    await ctx.session.flush()
    await record_change(ctx, cluster, "EDIT")
    return cluster


async def delete_cluster(ctx: ServiceContext, *, cluster_uuid: str) -> None:
    """Delete a cluster; 536 naming its hosts while it has any (remove them first)."""
    cluster = await find_by_uuid(ctx, Cluster, cluster_uuid, "id")
    hosts = (
        await ctx.session.scalars(
            select(Host.name)
            .where(Host.cluster_id == cluster.id, Host.removed.is_(None))
            .order_by(Host.name)
        )
    ).all()
    if hosts:
        raise ResourceInUse(
            f"Cluster {cluster.name} cannot be deleted as it has hosts: {', '.join(hosts)}; "
            "remove them first"
        )
    await forget_removed_hosts(ctx, cluster.id)
    await record_change(ctx, cluster, "DELETE")
    await ctx.session.delete(cluster)


async def list_clusters(
    ctx: ServiceContext,
    *,
    cluster_uuid: str | None,
    name: str | None,
    zone_uuid: str | None,
    pod_uuid: str | None,
    hypervisor: Hypervisor | None,
    cluster_type: ClusterType | None,
    allocation_state: AllocationState | None,
    managed_state: ManagedState | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Cluster]:
    query = select(Cluster).where(
        equal_if_given(
            (Cluster.uuid, cluster_uuid),
            (Cluster.name, name),
            (Cluster.hypervisor, hypervisor),
            (Cluster.cluster_type, cluster_type),
            (Cluster.allocation_state, allocation_state),
            (Cluster.managed_state, managed_state),
        ),
        keyword_filter(keyword, Cluster.name),
    )
    if zone_uuid is not None:
        zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
        query = query.where(Cluster.pod_id.in_(select(Pod.id).where(Pod.zone_id == zone.id)))
    if pod_uuid is not None:
        pod = await find_by_uuid(ctx, Pod, pod_uuid, "podid")
        query = query.where(Cluster.pod_id == pod.id)
    return await paginate(ctx.session, query.order_by(Cluster.id), page)
