"""Placement: choose a host for a VM and reserve its CPU and memory there, atomically.

Filters (all must hold): the zone, the pod/cluster/host the caller asked for, hosts
avoided by a retry, the host ``Up`` and ``Enabled`` in an ``Enabled`` zone, pod and
(managed) cluster, every host tag of the offering (host tags are this cloud's host
aggregates), room for the VM under the overcommit ratios, and the VM's affinity
groups (``host affinity`` pins the host of the group's other VMs, ``host
anti-affinity`` excludes theirs).

Every filter is a SQL condition and the weigher is an ``ORDER BY ... LIMIT``, so with
10,000 hosts the database returns the few best ids, never 10,000 rows. The best is then
reserved with ``reservations.reserve`` (one conditional UPDATE that re-checks room and
state); if it no longer fits, the next is tried, and the query runs again without the
full ones. So N concurrent placements into room for M < N VMs reserve exactly M. Placements of
VMs sharing an affinity group are serialised by locking the groups' rows before their
members are read, so the rules hold under concurrency too.

On PostgreSQL the best of those candidates that no concurrent placement is reserving
(its row is locked until that transaction ends) is taken first (``FOR UPDATE SKIP
LOCKED``), so concurrent deploys spread over the best hosts instead of queueing behind
the single best one. SQLite ignores the clause; its write transactions run one at a time.

Weighers (``settings.scheduler_weigher``): ``spread`` puts a VM on the host with the most
free memory (then CPU); ``pack`` on the host with the least that still fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, false, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import AffinityGroup, Cluster, Host, Pod, VirtualMachine, Zone
from altostratus.db.models.compute import VmState
from altostratus.db.models.hosts import HostState, ResourceState
from altostratus.db.models.inventory import AllocationState, ManagedState
from altostratus.db.models.tenancy import affinity_group_members
from altostratus.errors import InsufficientCapacity
from altostratus.services.infrastructure import reservations
from altostratus.settings import Settings

__all__ = ["AFFINITY", "ANTI_AFFINITY", "PlacementRequest", "place"]

AFFINITY = "host affinity"
ANTI_AFFINITY = "host anti-affinity"

#: VMs that no longer hold a place on their host for affinity purposes.
_GONE = (VmState.DESTROYED, VmState.EXPUNGING)
#: The best hosts read at once (a top-N sort, no row locks); the next ones are read only
#: when all of these turned out full.
_CANDIDATES = 8


@dataclass(frozen=True)
class PlacementRequest:
    zone_id: int
    #: What the VM reserves: cores times speed, and memory.
    cpu_mhz: int
    memory_mb: int
    #: Tags the host must all carry (the service offering's ``hosttags``).
    host_tags: frozenset[str] = frozenset()
    pod_id: int | None = None
    cluster_id: int | None = None
    #: An admin's ``hostid``: only this host will do.
    host_id: int | None = None
    affinity_group_ids: tuple[int, ...] = ()
    #: The VM being placed, so its own old host does not count for its groups.
    vm_id: int | None = None
    #: Hosts that already failed this VM (a retry after a start failure).
    avoid_host_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class _Filter:
    """One filter of the chain, and what to say when it leaves no host."""

    condition: ColumnElement[bool]
    reason: str


def _in_service() -> list[ColumnElement[bool]]:
    """A host that may take new VMs now; re-checked by the reserving UPDATE."""
    return [
        Host.state == HostState.UP,
        Host.resource_state == ResourceState.ENABLED,
        Host.removed.is_(None),
    ]


async def _open_clusters(session: AsyncSession, zone_id: int) -> ColumnElement[bool]:
    """Hosts in the zone's Enabled, managed clusters of Enabled pods.

    Read once as a short list of ids: a join per host row would cost more than the
    scan itself at 10,000 hosts.
    """
    cluster_ids = await session.scalars(
        select(Cluster.id)
        .join(Pod, Cluster.pod_id == Pod.id)
        .where(
            Pod.zone_id == zone_id,
            Pod.allocation_state == AllocationState.ENABLED,
            Cluster.allocation_state == AllocationState.ENABLED,
            Cluster.managed_state == ManagedState.MANAGED,
        )
    )
    return Host.cluster_id.in_(list(cluster_ids))


def _tag_condition(tags: frozenset[str]) -> ColumnElement[bool]:
    """Every tag appears in the host's comma-separated list (stored lower case)."""
    padded = literal(",") + Host.host_tags + literal(",")
    return and_(*(padded.contains(f",{tag},", autoescape=True) for tag in sorted(tags)))


def _constraints(request: PlacementRequest) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if request.pod_id is not None:
        conditions.append(Host.pod_id == request.pod_id)
    if request.cluster_id is not None:
        conditions.append(Host.cluster_id == request.cluster_id)
    if request.host_id is not None:
        conditions.append(Host.id == request.host_id)
    if request.avoid_host_ids:
        conditions.append(Host.id.not_in(sorted(request.avoid_host_ids)))
    return and_(true(), *conditions)


async def _lock_groups(session: AsyncSession, group_ids: tuple[int, ...]) -> None:
    """Serialise placements into the same affinity groups (PostgreSQL row locks).

    Two concurrent placements of one anti-affinity group would otherwise both read the
    members before either VM holds a host, and could land on the same host. Locking the
    groups' rows (in id order, so two requests never deadlock) makes the second wait
    until the first commits, then read its VM among the members. SQLite ignores the
    clause; its write transactions run one at a time already.
    """
    await session.execute(
        select(AffinityGroup.id)
        .where(AffinityGroup.id.in_(sorted(set(group_ids))))
        .order_by(AffinityGroup.id)
        .with_for_update()
    )


async def _affinity_filter(session: AsyncSession, request: PlacementRequest) -> _Filter | None:
    """Where the other members of the VM's groups run decides where it may go."""
    if not request.affinity_group_ids:
        return None
    await _lock_groups(session, request.affinity_group_ids)
    members = (
        select(AffinityGroup.name, AffinityGroup.type, VirtualMachine.host_id)
        .join(
            affinity_group_members,
            affinity_group_members.c.affinity_group_id == AffinityGroup.id,
        )
        .join(VirtualMachine, VirtualMachine.id == affinity_group_members.c.vm_id)
        .where(
            AffinityGroup.id.in_(request.affinity_group_ids),
            VirtualMachine.removed.is_(None),
            VirtualMachine.host_id.is_not(None),
            VirtualMachine.state.not_in(_GONE),
        )
    )
    if request.vm_id is not None:
        members = members.where(VirtualMachine.id != request.vm_id)
    pinned: dict[str, set[int]] = {}
    excluded: set[int] = set()
    for name, kind, member_host in await session.execute(members):
        host_id = cast(int, member_host)  # never None: the query requires a host
        if kind == AFFINITY:
            pinned.setdefault(name, set()).add(host_id)
        elif kind == ANTI_AFFINITY:
            excluded.add(host_id)
    conditions: list[ColumnElement[bool]] = []
    for hosts in pinned.values():
        # Members already on two hosts: no single host keeps the group together.
        conditions.append(Host.id == next(iter(hosts)) if len(hosts) == 1 else false())
    if excluded:
        conditions.append(Host.id.not_in(sorted(excluded)))
    if not conditions:
        return None
    reason = "the VM's affinity groups rule out every remaining host"
    if pinned:
        reason += f" (host affinity of {', '.join(sorted(pinned))})"
    if excluded:
        reason += f" ({len(excluded)} host(s) taken by anti-affinity peers)"
    return _Filter(and_(*conditions), reason)


async def _filters(
    session: AsyncSession, ratios: reservations.Overcommit, request: PlacementRequest
) -> list[_Filter]:
    """The filter chain, broadest first, so the first that empties it explains a 533."""
    chain = [
        _Filter(Host.zone_id == request.zone_id, "the zone has no hosts"),
        _Filter(_constraints(request), "no host matches the pod, cluster or host asked for"),
        _Filter(
            and_(*_in_service(), await _open_clusters(session, request.zone_id)),
            "no host is Up and Enabled (in an Enabled pod and cluster)",
        ),
    ]
    if request.host_tags:
        tags = ", ".join(sorted(request.host_tags))
        chain.append(_Filter(_tag_condition(request.host_tags), f"no host carries tags {tags}"))
    affinity = await _affinity_filter(session, request)
    if affinity is not None:
        chain.append(affinity)
    chain.append(
        _Filter(
            reservations.fits(ratios, request.cpu_mhz, request.memory_mb),
            f"no host has {request.cpu_mhz} MHz CPU and {request.memory_mb} MB memory free",
        )
    )
    return chain


def _ordered(weigher: _Weigher, query: Select[Any]) -> Select[Any]:
    free_cpu, free_memory = reservations.room_left(weigher.ratios)
    if weigher.pack:
        return query.order_by(free_memory.asc(), free_cpu.asc(), Host.id)
    return query.order_by(free_memory.desc(), free_cpu.desc(), Host.id)


def _normalised(request: PlacementRequest) -> PlacementRequest:
    tags = frozenset(tag.strip().lower() for tag in request.host_tags if tag.strip())
    return replace(request, host_tags=tags)


@dataclass(frozen=True)
class _Weigher:
    """How candidates are ordered: by room under ``ratios``, emptiest (or, ``pack``,
    fullest) first."""

    ratios: reservations.Overcommit
    pack: bool


async def place(session: AsyncSession, settings: Settings, request: PlacementRequest) -> int:
    """The chosen host's id, its capacity already reserved; 533 saying why if none fits."""
    request = _normalised(request)
    zone = (
        await session.execute(
            select(Zone.name, Zone.allocation_state).where(Zone.id == request.zone_id)
        )
    ).one_or_none()
    if zone is None or zone.allocation_state != AllocationState.ENABLED:
        raise InsufficientCapacity(
            f"Unable to place the VM: zone {zone.name if zone else request.zone_id} "
            "is not Enabled for deployment"
        )
    ratios = await reservations.overcommit(session, settings)
    weigher = _Weigher(ratios, pack=settings.scheduler_weigher == "pack")
    chain = await _filters(session, ratios, request)
    usable = and_(*(item.condition for item in chain))
    tried: set[int] = set()
    while True:
        query = select(Host.id).where(usable).limit(_CANDIDATES)
        if tried:
            query = query.where(Host.id.not_in(sorted(tried)))
        candidates: list[int] = list(await session.scalars(_ordered(weigher, query)))
        if not candidates:
            break
        for host_id in await _free_first(session, weigher, candidates):
            if await reservations.reserve(
                session, ratios, host_id, request.cpu_mhz, request.memory_mb, *_in_service()
            ):
                return host_id
            tried.add(host_id)
    raise InsufficientCapacity(
        f"Unable to place a VM needing {request.cpu_mhz} MHz and {request.memory_mb} MB "
        f"in zone {zone.name}: {await _why(session, chain)}"
    )


async def _free_first(session: AsyncSession, weigher: _Weigher, candidates: list[int]) -> list[int]:
    """The best candidate no concurrent placement holds (locked for us), else all of them.

    PostgreSQL skips rows another transaction has locked; when every candidate is held,
    the reserving UPDATE waits for each in turn and re-checks its room, so a host is
    never given up on while it may still fit. SQLite ignores the locking clause.
    """
    unlocked = await session.scalar(
        _ordered(weigher, select(Host.id).where(Host.id.in_(candidates)).limit(1)).with_for_update(
            skip_locked=True
        )
    )
    return candidates if unlocked is None else [unlocked]


async def _why(session: AsyncSession, chain: list[_Filter]) -> str:
    """The reason of the first filter after which no host is left."""
    applied: list[ColumnElement[bool]] = []
    for item in chain:
        applied.append(item.condition)
        left = await session.scalar(select(func.count()).select_from(Host).where(*applied))
        if not left:
            return item.reason
    return "every candidate host was taken by concurrent placements"
