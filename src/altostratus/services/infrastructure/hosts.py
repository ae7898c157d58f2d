"""Hypervisor hosts: ``addHost``, ``updateHost``, ``deleteHost``, maintenance, listing.

``state`` is what the agent's heartbeats say (``agent_link``, ``host_monitor``);
``resource_state`` is what the operator decided. Only root admins call these (the API
declares it), so the services check input and rules, not permissions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, Dependencies, ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.clock import database_now
from altostratus.db.models import (
    Account,
    Cluster,
    Host,
    HostCommand,
    Pod,
    User,
    VirtualMachine,
    Volume,
    Zone,
)
from altostratus.db.models.compute import PowerState, VmState
from altostratus.db.models.hosts import CommandState, HostState, ResourceState
from altostratus.db.models.inventory import Hypervisor
from altostratus.errors import InvalidParameter, ResourceInUse, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.timeutil import utcnow

__all__ = [
    "ACTIVE_VM_STATES",
    "SIMULATED_ADDRESSES",
    "HostSpec",
    "add_host",
    "cancel_maintenance",
    "delete_host",
    "forget_removed_hosts",
    "get_host",
    "host_address",
    "host_event",
    "list_hosts",
    "start_maintenance",
    "start_reconnect",
    "system_caller",
    "system_context",
    "update_host",
    "url_address",
    "vms_on",
]

#: VM states in which the hypervisor holds the VM (what maintenance waits out).
ACTIVE_VM_STATES = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.MIGRATING)
#: A simulated host without details: CloudStack's simulator defaults.
_SIM_DEFAULTS = {"cpu_number": 4, "cpu_speed": 2000, "memory_mb": 8192}
#: Where simulated hosts' synthetic addresses come from: RFC 2544's benchmarking block,
#: never routed, and never contacted (the in-process simulator plays those hosts).
SIMULATED_ADDRESSES = ipaddress.IPv4Network("198.18.0.0/15")
_MAINTENANCE_STATES = (
    ResourceState.PREPARE_FOR_MAINTENANCE,
    ResourceState.MAINTENANCE,
    ResourceState.ERROR_IN_MAINTENANCE,
)


async def system_caller(session: AsyncSession) -> Caller:
    """The root admin, as whom background work (heartbeats, the host monitor) records."""
    user = await session.scalar(
        select(User)
        .join(Account, Account.id == User.account_id)
        .where(Account.name == "admin", Account.domain.has(path="ROOT"))
        .order_by(User.id)
        .limit(1)
    )
    if user is None:
        raise RuntimeError("the root admin account is missing")
    return Caller.of(user, await session.get_one(Account, user.account_id))


async def system_context(session: AsyncSession, deps: Dependencies) -> ServiceContext:
    """A context acting as the root admin: background work (heartbeats, the host monitor)
    records its events as the system, not as a user."""
    return ServiceContext(session, await system_caller(session), deps)


async def host_event(ctx: ServiceContext, host: Host, event_type: str, description: str) -> None:
    """An event about ``host`` caused by the caller."""
    await record_event(
        ctx,
        event_type,
        f"{description} ({host.uuid})",
        resource_type="Host",
        resource_uuid=host.uuid,
    )


async def get_host(ctx: ServiceContext, uuid: str, parameter: str = "id") -> Host:
    host = await ctx.session.scalar(select(Host).where(Host.uuid == uuid, Host.removed.is_(None)))
    if host is None:
        raise InvalidParameter(f"Unable to find host with id {uuid} (parameter {parameter})")
    return host


@dataclass(frozen=True)
class HostSpec:
    """What ``addHost`` is given; CPU, memory and latency matter for simulated hosts only."""

    zone_uuid: str
    pod_uuid: str
    cluster_uuid: str
    url: str
    hypervisor: Hypervisor
    host_tags: list[str]
    cpu_number: int | None = None
    cpu_speed: int | None = None
    memory_mb: int | None = None
    latency_ms: int | None = None


def _simulated_address(host_id: int) -> str:
    """A ``sim://`` host's stable address: its id's place in ``SIMULATED_ADDRESSES``
    (198.18.0.1 for host 1), unique among the region's first 131,070 hosts."""
    usable = SIMULATED_ADDRESSES.num_addresses - 2
    return str(SIMULATED_ADDRESSES.network_address + 1 + (host_id - 1) % usable)


def host_address(host: Host) -> str:
    """The host's ``ipaddress``: every host has one, as in CloudStack.

    The address recorded for it (what its agent reported when it registered, else the
    address it connected from, else the IP its ``addHost`` URL named); a simulated host
    a synthetic one (``_simulated_address``); a host added by name whose agent has not
    registered yet, the host name of its URL.
    """
    if host.ip_address:
        return host.ip_address
    if host.url.startswith("sim://"):
        return _simulated_address(host.id)
    return urlsplit(host.url).hostname or host.name


def url_address(url: str) -> str | None:
    """The IP address an ``addHost`` URL names (``http://10.0.0.5``, ``10.0.0.5``), if any."""
    name = urlsplit(url).hostname if "://" in url else url
    try:
        return str(ipaddress.ip_address(name or ""))
    except ValueError:
        return None


def _name_from_url(spec: HostSpec) -> str:
    parts = urlsplit(spec.url)
    if spec.hypervisor is Hypervisor.SIMULATOR:
        if parts.scheme != "sim" or not parts.netloc:
            raise invalid("url", "a Simulator host's url is sim://NAME", value=spec.url)
        return parts.netloc
    name = parts.hostname or (spec.url if "://" not in spec.url else "")
    if not name:
        raise invalid("url", "no host name in it", value=spec.url)
    return name


def _normalise_tags(tags: list[str]) -> str:
    """Stored form of host tags: lower case, sorted, comma-separated."""
    return ",".join(sorted({tag.strip().lower() for tag in tags if tag.strip()}))


async def add_host(ctx: ServiceContext, spec: HostSpec) -> Host:
    """A new host in the cluster: ``Connecting`` until its agent (or the simulator) reports."""
    zone = await find_by_uuid(ctx, Zone, spec.zone_uuid, "zoneid")
    pod = await find_by_uuid(ctx, Pod, spec.pod_uuid, "podid")
    cluster = await find_by_uuid(ctx, Cluster, spec.cluster_uuid, "clusterid")
    if pod.zone_id != zone.id:
        raise invalid("podid", f"pod {pod.name} is not in zone {zone.name}")
    if cluster.pod_id != pod.id:
        raise invalid("clusterid", f"cluster {cluster.name} is not in pod {pod.name}")
    if cluster.hypervisor != spec.hypervisor:
        raise invalid(
            "hypervisor",
            f"cluster {cluster.name} is a {cluster.hypervisor} cluster",
            value=spec.hypervisor,
        )
    name = _name_from_url(spec)
    clash = await ctx.session.scalar(
        select(Host.uuid).where(Host.zone_id == zone.id, Host.name == name, Host.removed.is_(None))
    )
    if clash is not None:
        raise invalid(
            "url", f"host {name} already exists in zone {zone.name} ({clash})", value=spec.url
        )
    simulated = spec.hypervisor is Hypervisor.SIMULATOR
    host = Host(
        name=name,
        zone=zone,
        pod=pod,
        cluster=cluster,
        hypervisor=spec.hypervisor,
        url=spec.url,
        state=HostState.CONNECTING,
        resource_state=ResourceState.ENABLED,
        host_tags=_normalise_tags(spec.host_tags),
        state_changed=await database_now(ctx.session),
    )
    if simulated:
        host.cpu_number = spec.cpu_number or _SIM_DEFAULTS["cpu_number"]
        host.cpu_speed = spec.cpu_speed or _SIM_DEFAULTS["cpu_speed"]
        host.memory_mb = spec.memory_mb or _SIM_DEFAULTS["memory_mb"]
        host.hypervisor_version = "simulator-1"
        host.details = orjson.dumps({"latency_ms": spec.latency_ms or 0}).decode()
    else:
        host.ip_address = url_address(spec.url)
    ctx.session.add(host)
    await ctx.session.flush()
    await host_event(ctx, host, "HOST.CREATE", f"Added host {name}")
    return host


async def update_host(
    ctx: ServiceContext,
    uuid: str,
    *,
    enable: bool | None,
    host_tags: list[str] | None,
    name: str | None,
) -> Host:
    host = await get_host(ctx, uuid)
    if enable is not None:
        if host.resource_state in _MAINTENANCE_STATES:
            raise invalid(
                "allocationstate",
                f"host {host.name} is in {host.resource_state}; cancel the maintenance first",
            )
        host.resource_state = ResourceState.ENABLED if enable else ResourceState.DISABLED
    if host_tags is not None:
        host.host_tags = _normalise_tags(host_tags)
    if name is not None and name != host.name:
        clash = await ctx.session.scalar(
            select(Host.uuid).where(
                Host.zone_id == host.zone_id, Host.name == name, Host.removed.is_(None)
            )
        )
        if clash is not None:
            raise invalid("name", f"host exists ({clash})", value=name)
        host.name = name
    await ctx.session.flush()
    await host_event(ctx, host, "HOST.UPDATE", f"Updated host {host.name}")
    return host


def vms_on(host_id: int, states: tuple[str, ...] | None = None) -> Select[VirtualMachine]:
    """VMs (not removed) placed on the host, optionally only in ``states``."""
    query = select(VirtualMachine).where(
        VirtualMachine.host_id == host_id, VirtualMachine.removed.is_(None)
    )
    if states is not None:
        query = query.where(VirtualMachine.state.in_(states))
    return query


async def delete_host(ctx: ServiceContext, uuid: str, *, forced: bool) -> None:
    """Remove a host; 536 while VMs are placed on it, unless ``forced``.

    Forced, its VMs lose their host: they are Stopped (the operator removed the hardware
    they ran on) and their reservations go with the host; its queued commands fail.
    """
    host = await get_host(ctx, uuid)
    count = await ctx.session.scalar(select(func.count()).select_from(vms_on(host.id).subquery()))
    if count and not forced:
        raise ResourceInUse(
            f"Host {host.name} still holds {count} VM(s); stop or move them, or use forced=true"
        )
    now = utcnow()
    if count:
        await ctx.session.execute(
            update(VirtualMachine)
            .where(VirtualMachine.host_id == host.id)
            .values(
                state=VmState.STOPPED,
                power_state=PowerState.OFF,
                power_state_updated=now,
                host_id=None,
                last_host_id=host.id,
            )
            .execution_options(synchronize_session=False)
        )
    await ctx.session.execute(
        update(HostCommand)
        .where(
            HostCommand.host_id == host.id,
            HostCommand.state.in_([CommandState.PENDING, CommandState.SENT]),
        )
        .values(
            state=CommandState.FAILED,
            result=orjson.dumps({"error": "the host was deleted"}).decode(),
            completed=now,
        )
        .execution_options(synchronize_session=False)
    )
    # The name is unique in the zone among all rows: free it for a new host.
    original = host.name
    host.name = f"{original}.removed.{host.id}"[:255]
    host.removed, host.agent_key_hash = now, None
    host.cpu_allocated_mhz = host.memory_allocated_mb = 0
    await ctx.session.flush()
    await host_event(ctx, host, "HOST.DELETE", f"Deleted host {original}")


async def list_hosts(
    ctx: ServiceContext,
    *,
    host_uuid: str | None,
    name: str | None,
    zone_uuid: str | None,
    pod_uuid: str | None,
    cluster_uuid: str | None,
    state: str | None,
    resource_state: str | None,
    hypervisor: str | None,
    host_type: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Host]:
    query = select(Host).where(
        Host.removed.is_(None),
        equal_if_given(
            (Host.uuid, host_uuid),
            (Host.name, name),
            (Host.state, state),
            (Host.resource_state, resource_state),
            (Host.hypervisor, hypervisor),
        ),
        keyword_filter(keyword, Host.name),
    )
    if host_type is not None and host_type.lower() != "routing":
        query = query.where(Host.id.is_(None))  # only Routing hosts exist here
    for uuid, model, column, parameter in (
        (zone_uuid, Zone, Host.zone_id, "zoneid"),
        (pod_uuid, Pod, Host.pod_id, "podid"),
        (cluster_uuid, Cluster, Host.cluster_id, "clusterid"),
    ):
        if uuid is not None:
            row = await find_by_uuid(ctx, model, uuid, parameter)
            query = query.where(column == row.id)
    return await paginate(ctx.session, query.order_by(Host.id), page)


# --- maintenance and reconnection (the async commands' synchronous part) ---


async def start_maintenance(ctx: ServiceContext, uuid: str) -> Host:
    host = await get_host(ctx, uuid)
    if host.resource_state not in (ResourceState.ENABLED, ResourceState.DISABLED):
        raise invalid("id", f"host {host.name} is already in {host.resource_state}")
    host.resource_state = ResourceState.PREPARE_FOR_MAINTENANCE
    await ctx.session.flush()
    await host_event(ctx, host, "MAINT.PREPARE", f"Preparing host {host.name} for maintenance")
    return host


async def cancel_maintenance(ctx: ServiceContext, uuid: str) -> Host:
    host = await get_host(ctx, uuid)
    if host.resource_state not in _MAINTENANCE_STATES:
        raise invalid("id", f"host {host.name} is not in maintenance ({host.resource_state})")
    host.resource_state = ResourceState.ENABLED
    await ctx.session.flush()
    await host_event(ctx, host, "MAINT.CANCEL", f"Cancelled maintenance of host {host.name}")
    return host


async def start_reconnect(ctx: ServiceContext, uuid: str) -> Host:
    """Back to ``Connecting`` until the next heartbeat; a remote agent must register again."""
    host = await get_host(ctx, uuid)
    host.state, host.state_changed = HostState.CONNECTING, await database_now(ctx.session)
    if not host.url.startswith("sim://"):
        host.agent_key_hash = None
    await ctx.session.flush()
    await host_event(ctx, host, "HOST.RECONNECT", f"Reconnecting host {host.name}")
    return host


async def forget_removed_hosts(ctx: ServiceContext, cluster_id: int) -> None:
    """Delete the rows of a cluster's removed hosts, as the cluster itself goes.

    A removed host keeps its row while its cluster lives, so the VMs and volumes that
    ran or lived on it still say where; a cluster cannot be deleted under rows that
    name it, so they go with it, and the references to them are cleared first (their
    HA, out-of-band and command rows cascade).
    """
    removed = select(Host.id).where(Host.cluster_id == cluster_id, Host.removed.is_not(None))
    for column in (VirtualMachine.host_id, VirtualMachine.last_host_id, Volume.host_id):
        await ctx.session.execute(
            update(column.class_)
            .where(column.in_(removed))
            .values({column.key: None})
            .execution_options(synchronize_session=False)
        )
    await ctx.session.execute(
        delete(Host).where(Host.id.in_(removed)).execution_options(synchronize_session=False)
    )
