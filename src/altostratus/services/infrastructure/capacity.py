"""``listCapacity``: what the region's hosts and networks hold.

Per zone (or pod, or cluster) the memory and CPU of the hosts that can take VMs now
(``Up`` and ``Enabled``; a host that is down or in maintenance offers nothing, so its
figures would only mislead), totals including the overcommit ratios
(``reservations.capacity_totals``, the counters placement takes and gives back); and the
addresses of the shared guest networks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, Host, IpAddress, Network, Pod, Zone
from altostratus.db.models.hosts import HostState, ResourceState
from altostratus.services.infrastructure.reservations import capacity_totals, overcommit
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.settings import Settings

__all__ = [
    "CapacityFigure",
    "CapacityScope",
    "CapacityType",
    "Place",
    "address_capacity",
    "host_capacity",
    "list_capacity",
]


class CapacityType(enum.IntEnum):
    """CloudStack's capacity type numbers (the ones this cloud tracks)."""

    MEMORY = 0
    CPU = 1
    DIRECT_ATTACHED_PUBLIC_IP = 8


@dataclass(frozen=True)
class Place:
    """A zone, pod or cluster a figure is about: its uuid and name."""

    uuid: str
    name: str


@dataclass(frozen=True)
class CapacityFigure:
    type: CapacityType
    zone: Place
    pod: Place | None
    cluster: Place | None
    #: Bytes for memory, MHz for CPU, addresses for IPs; totals include overcommit.
    total: int
    used: int

    @property
    def percent_used(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0


@dataclass(frozen=True)
class CapacityScope:
    """Which part of the region to report on, and at which level to group."""

    zone_id: int | None = None
    pod_id: int | None = None
    cluster_id: int | None = None


_MIB = 1024 * 1024


async def _places(
    session: AsyncSession, model: type[Zone | Pod | Cluster], ids: set[int]
) -> dict[int, Place]:
    if not ids:
        return {}
    rows = await session.execute(
        select(model.id, model.uuid, model.name).where(model.id.in_(sorted(ids)))
    )
    return {row.id: Place(row.uuid, row.name) for row in rows}


async def host_capacity(
    session: AsyncSession, settings: Settings, scope: CapacityScope
) -> list[CapacityFigure]:
    """Memory and CPU of the hosts that take VMs now (``Up`` and ``Enabled``), grouped per
    zone, or per pod / cluster when the scope names one; totals include overcommit."""
    group = [Host.zone_id]
    if scope.pod_id is not None or scope.cluster_id is not None:
        group.append(Host.pod_id)
    if scope.cluster_id is not None:
        group.append(Host.cluster_id)
    cpu_of_host, memory_of_host = capacity_totals(await overcommit(session, settings))
    query = (
        select(
            *group,
            func.sum(memory_of_host).label("memory_total"),
            func.sum(Host.memory_allocated_mb).label("memory_used"),
            func.sum(cpu_of_host).label("cpu_total"),
            func.sum(Host.cpu_allocated_mhz).label("cpu_used"),
        )
        .where(
            Host.removed.is_(None),
            Host.state == HostState.UP,
            Host.resource_state == ResourceState.ENABLED,
        )
        .group_by(*group)
    )
    for column, value in (
        (Host.zone_id, scope.zone_id),
        (Host.pod_id, scope.pod_id),
        (Host.cluster_id, scope.cluster_id),
    ):
        if value is not None:
            query = query.where(column == value)
    rows = (await session.execute(query)).all()
    zones = await _places(session, Zone, {row.zone_id for row in rows})
    pods = await _places(session, Pod, {row.pod_id for row in rows if len(group) > 1})
    clusters = await _places(session, Cluster, {row.cluster_id for row in rows if len(group) > 2})
    figures = []
    for row in rows:
        zone = zones[row.zone_id]
        pod = pods.get(row.pod_id) if len(group) > 1 else None
        cluster = clusters.get(row.cluster_id) if len(group) > 2 else None
        memory_total, memory_used = int(row.memory_total) * _MIB, int(row.memory_used) * _MIB
        figures += [
            CapacityFigure(CapacityType.MEMORY, zone, pod, cluster, memory_total, memory_used),
            CapacityFigure(
                CapacityType.CPU, zone, pod, cluster, int(row.cpu_total), int(row.cpu_used)
            ),
        ]
    return figures


def _range_size(network: Network) -> int:
    try:
        return int(IPv4Address(network.end_ip)) - int(IPv4Address(network.start_ip)) + 1
    except ValueError:
        return 0


async def address_capacity(session: AsyncSession, zone_id: int | None) -> list[CapacityFigure]:
    """Addresses of each zone's shared guest networks: the range, and those handed out."""
    query = select(Network).where(Network.removed.is_(None), Network.guest_type == "Shared")
    if zone_id is not None:
        query = query.where(Network.zone_id == zone_id)
    networks = list(await session.scalars(query))
    if not networks:
        return []
    counted = await session.execute(
        select(IpAddress.network_id, func.count())
        .where(IpAddress.network_id.in_([network.id for network in networks]))
        .group_by(IpAddress.network_id)
    )
    used: dict[int, int] = {network_id: count for network_id, count in counted}
    per_zone: dict[int, tuple[Place, int, int]] = {}
    for network in networks:
        place, total, taken = per_zone.get(
            network.zone_id, (Place(network.zone.uuid, network.zone.name), 0, 0)
        )
        per_zone[network.zone_id] = (
            place,
            total + _range_size(network),
            taken + used.get(network.id, 0),
        )
    return [
        CapacityFigure(CapacityType.DIRECT_ATTACHED_PUBLIC_IP, place, None, None, total, taken)
        for place, total, taken in per_zone.values()
    ]


async def list_capacity(
    ctx: ServiceContext,
    *,
    zone_uuid: str | None,
    pod_uuid: str | None,
    cluster_uuid: str | None,
    kind: int | None,
    by_usage: bool,
) -> list[CapacityFigure]:
    """``listCapacity``: host figures for the scope asked, and zone-wide address figures
    unless a pod or cluster was named; ``by_usage`` puts the fullest first."""
    scope = CapacityScope(
        zone_id=(await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")).id if zone_uuid else None,
        pod_id=(await find_by_uuid(ctx, Pod, pod_uuid, "podid")).id if pod_uuid else None,
        cluster_id=(
            (await find_by_uuid(ctx, Cluster, cluster_uuid, "clusterid")).id
            if cluster_uuid
            else None
        ),
    )
    figures = await host_capacity(ctx.session, ctx.deps.settings, scope)
    if scope.pod_id is None and scope.cluster_id is None:
        figures += await address_capacity(ctx.session, scope.zone_id)
    figures = [figure for figure in figures if kind is None or figure.type == kind]
    if by_usage:
        return sorted(figures, key=lambda figure: figure.percent_used, reverse=True)
    return sorted(figures, key=_position)


def _position(figure: CapacityFigure) -> tuple[str, str, str, int]:
    """Zone, pod and cluster by name, then the type: a stable, readable order."""
    pod, cluster = figure.pod, figure.cluster
    return figure.zone.name, pod.name if pod else "", cluster.name if cluster else "", figure.type
