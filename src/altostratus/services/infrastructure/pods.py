"""Pods: ``createPod``, ``updatePod``, ``deletePod`` and ``listPods``.

A pod is a rack (or row) behind one layer-2 switch: its gateway and netmask define the
management subnet its hosts live in, and ``startip`` to ``endip`` the addresses the cloud
may hand out there. The checks below are CloudStack's: the range and the gateway lie
in the subnet, the gateway is outside the range, and pod subnets of one zone do not
overlap (hosts of two pods would otherwise be routed to the wrong rack).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from sqlalchemy import func, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Cluster, Pod, Zone
from altostratus.db.models.inventory import AllocationState
from altostratus.errors import ResourceInUse, invalid
from altostratus.services.shared.lookup import ensure_name_free, find_by_uuid, record_change

__all__ = ["PodNetwork", "create_pod", "delete_pod", "list_pods", "update_pod"]


@dataclass(frozen=True)
class PodNetwork:
    """A pod's addressing, as given (already well-formed IPv4 text) or as stored."""

    gateway: str
    netmask: str
    start_ip: str | None
    end_ip: str | None


def _subnet(network: PodNetwork) -> IPv4Network:
    return IPv4Network(f"{network.gateway}/{network.netmask}", strict=False)


def _host_of(subnet: IPv4Network, address: str, parameter: str) -> IPv4Address:
    host = IPv4Address(address)
    if host not in subnet or host in (subnet.network_address, subnet.broadcast_address):
        raise invalid(
            parameter,
            f"not a host address of the pod's subnet {subnet} (from gateway and netmask)",
            value=address,
        )
    return host


def _checked(network: PodNetwork) -> PodNetwork:
    """``network`` with a missing ``end_ip`` defaulted to the subnet's last host, or a 431."""
    subnet = _subnet(network)
    gateway = _host_of(subnet, network.gateway, "gateway")
    if network.start_ip is None:
        if network.end_ip is not None:
            raise invalid("startip", "required when endip is given")
        return network
    start = _host_of(subnet, network.start_ip, "startip")
    end = (
        _host_of(subnet, network.end_ip, "endip")
        if network.end_ip is not None
        else subnet.broadcast_address - 1
    )
    if end < start:
        raise invalid("endip", f"lower than startip {start}", value=end)
    if start <= gateway <= end:
        raise invalid(
            "gateway",
            f"inside the range {start}-{end}; the gateway must not be handed out",
            value=gateway,
        )
    return PodNetwork(network.gateway, network.netmask, str(start), str(end))


async def _check_zone_fit(
    ctx: ServiceContext, zone: Zone, network: PodNetwork, pod: Pod | None
) -> None:
    subnet = _subnet(network)
    others = select(Pod).where(Pod.zone_id == zone.id)
    if pod is not None:
        others = others.where(Pod.id != pod.id)
    for other in await ctx.session.scalars(others):
        if _subnet(PodNetwork(other.gateway, other.netmask, None, None)).overlaps(subnet):
            raise invalid(
                "gateway/netmask",
                f"subnet {subnet} overlaps the subnet of pod {other.name} "
                f"({other.gateway}/{other.netmask}) in zone {zone.name}",
            )


async def _check_name(ctx: ServiceContext, zone: Zone, name: str, pod: Pod | None) -> None:
    await ensure_name_free(
        ctx,
        Pod,
        name,
        Pod.zone_id == zone.id,
        parameter="name",
        where=f" in zone {zone.name}",
        renamed=pod,
    )


def _store(pod: Pod, network: PodNetwork) -> None:
    pod.gateway, pod.netmask = network.gateway, network.netmask
    pod.start_ip, pod.end_ip = network.start_ip, network.end_ip


async def create_pod(
    ctx: ServiceContext,
    *,
    zone_uuid: str,
    name: str,
    network: PodNetwork,
    allocation_state: AllocationState | None,
) -> Pod:
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    await _check_name(ctx, zone, name, None)
    network = _checked(network)
    await _check_zone_fit(ctx, zone, network, None)
    pod = Pod(name=name, zone=zone, allocation_state=allocation_state or AllocationState.ENABLED)
    _store(pod, network)
    ctx.session.add(pod)
    await ctx.session.flush()
    await record_change(ctx, pod, "CREATE")
    return pod


async def update_pod(
    ctx: ServiceContext,
    *,
    pod_uuid: str,
    name: str | None,
    gateway: str | None,
    netmask: str | None,
    start_ip: str | None,
    end_ip: str | None,
    allocation_state: AllocationState | None,
) -> Pod:
    """Change what is given; the resulting addressing is checked as a whole."""
    pod = await find_by_uuid(ctx, Pod, pod_uuid, "id")
    if name is not None:
        await _check_name(ctx, pod.zone, name, pod)
        pod.name = name
    if (gateway, netmask, start_ip, end_ip) != (None, None, None, None):
        network = _checked(
            PodNetwork(
                gateway=gateway or pod.gateway,
                netmask=netmask or pod.netmask,
                start_ip=start_ip or pod.start_ip,
                end_ip=end_ip or pod.end_ip,
            )
        )
        await _check_zone_fit(ctx, pod.zone, network, pod)
        _store(pod, network)
    if allocation_state is not None:
        pod.allocation_state = allocation_state
    await ctx.session.flush()
    await record_change(ctx, pod, "EDIT")
    return pod


async def delete_pod(ctx: ServiceContext, *, pod_uuid: str) -> None:
    """Only an empty pod goes: its clusters must be deleted first."""
    pod = await find_by_uuid(ctx, Pod, pod_uuid, "id")
    clusters = await ctx.session.scalar(select(func.count()).where(Cluster.pod_id == pod.id))
    if clusters:
        raise ResourceInUse(
            f"Pod {pod.name} still has {clusters} cluster(s); delete them before the pod"
        )
    await record_change(ctx, pod, "DELETE")
    await ctx.session.delete(pod)


async def list_pods(
    ctx: ServiceContext,
    *,
    pod_uuid: str | None,
    name: str | None,
    zone_uuid: str | None,
    allocation_state: AllocationState | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Pod]:
    query = select(Pod).where(
        equal_if_given(
            (Pod.uuid, pod_uuid), (Pod.name, name), (Pod.allocation_state, allocation_state)
        ),
        keyword_filter(keyword, Pod.name),
    )
    if zone_uuid is not None:
        zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
        query = query.where(Pod.zone_id == zone.id)
    return await paginate(ctx.session, query.order_by(Pod.id), page)
