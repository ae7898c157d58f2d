"""The management server's side of host agents: registration, heartbeats, commands.

Agents reach any management server (``api.agent_routes`` over HTTP, or the in-process
simulator ``simulator_fleet`` directly); everything they exchange goes through the
database, so the server that queued a command and the one that delivers it need not be
the same. A command is ``Pending`` until handed out, then ``Sent``; one ``Sent`` but not
answered within the redelivery time is handed out again, and the agent answers a
redelivered id from its first execution (``agent.core``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from altostratus.agent.protocol import Answer, Delivery, HostFacts, Registration
from altostratus.core.context import Dependencies
from altostratus.db.clock import database_now
from altostratus.db.models import Cluster, Host, HostCommand, SystemValue, VirtualMachine, Zone
from altostratus.db.models.hosts import CommandState, HostState
from altostratus.db.rows import rowcount
from altostratus.errors import AuthenticationError, InvalidParameter
from altostratus.security.keyring import Keyring
from altostratus.services.compute.vms import reconcile_power_states
from altostratus.services.infrastructure.hosts import host_event, system_context, url_address
from altostratus.settings import Settings
from altostratus.timeutil import utcnow

__all__ = [
    "AgentHost",
    "authenticate",
    "has_deliverable",
    "heartbeat",
    "record_answers",
    "redelivery_after",
    "register",
    "requeue_sent",
    "take_commands",
    "zone_token",
]

_TOKEN_PREFIX = "agent-token:"


def redelivery_after(settings: Settings) -> timedelta:
    """How long a ``Sent`` command waits for its answer before it is handed out again."""
    return timedelta(seconds=max(settings.host_disconnect_after, 5.0))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- registration ---


async def zone_token(session: AsyncSession, keyring: Keyring, zone: Zone) -> str:
    """The zone's registration token (created on first use), stored encrypted."""
    name = f"{_TOKEN_PREFIX}{zone.uuid}"
    row = await session.get(SystemValue, name)
    if row is None:
        row = SystemValue(name=name, value=keyring.encrypt(secrets.token_urlsafe(32)))
        session.add(row)
        await session.flush()
    return keyring.decrypt(row.value)


async def _zone_of_token(session: AsyncSession, keyring: Keyring, token: str) -> Zone:
    rows = await session.scalars(
        select(SystemValue).where(SystemValue.name.startswith(_TOKEN_PREFIX))
    )
    for row in rows:
        if hmac.compare_digest(keyring.decrypt(row.value), token):
            zone_uuid = row.name.removeprefix(_TOKEN_PREFIX)
            zone = await session.scalar(select(Zone).where(Zone.uuid == zone_uuid))
            if zone is not None:
                return zone
    raise AuthenticationError("Unknown agent registration token")


async def _cluster_for(session: AsyncSession, zone: Zone, registration: Registration) -> Cluster:
    query = (
        select(Cluster)
        .join(Cluster.pod)
        .where(Cluster.pod.has(zone_id=zone.id))
        .order_by(Cluster.id)
    )
    if registration.cluster is not None:
        query = query.where(Cluster.name == registration.cluster)
    else:
        query = query.where(Cluster.hypervisor == registration.facts.hypervisor)
    cluster = await session.scalar(query.limit(1))
    if cluster is None:
        wanted = registration.cluster or f"a {registration.facts.hypervisor} cluster"
        raise InvalidParameter(f"Zone {zone.name} has no cluster {wanted} for the host to join")
    return cluster


def _apply_facts(host: Host, facts: HostFacts, peer_address: str | None) -> None:
    host.cpu_number, host.cpu_speed, host.memory_mb = (
        facts.cpu_number,
        facts.cpu_speed,
        facts.memory_mb,
    )
    host.hypervisor_version = facts.hypervisor_version
    host.agent_version = facts.agent_version
    host.probe_address = facts.probe_address
    host.ip_address = facts.ip_address or url_address(host.url) or peer_address or host.ip_address
    if facts.host_tags and not host.host_tags:
        host.host_tags = ",".join(sorted({tag.lower() for tag in facts.host_tags}))


async def register(
    session: AsyncSession,
    deps: Dependencies,
    registration: Registration,
    peer_address: str | None = None,
) -> tuple[Host, str]:
    """Adopt the host ``addHost`` created under this name/url, or create it; new key.

    The token says which zone the agent may join. The host is ``Connecting`` until its
    first heartbeat. Its address is the one the agent reports, else the IP its URL
    names, else ``peer_address``: the address the agent's request came from.
    """
    zone = await _zone_of_token(session, deps.keyring, registration.token)
    url = registration.url or f"agent://{registration.facts.name}"
    host = await session.scalar(
        select(Host).where(
            Host.zone_id == zone.id,
            Host.removed.is_(None),
            or_(Host.name == registration.facts.name, Host.url == url),
        )
    )
    created = host is None
    if host is None:
        cluster = await _cluster_for(session, zone, registration)
        host = Host(
            name=registration.facts.name,
            zone_id=zone.id,
            pod_id=cluster.pod_id,
            cluster_id=cluster.id,
            hypervisor=registration.facts.hypervisor,
            url=url,
            host_tags="",
        )
        session.add(host)
    key = secrets.token_urlsafe(32)
    _apply_facts(host, registration.facts, peer_address)
    host.agent_key_hash = _hash(key)
    host.state = HostState.CONNECTING
    host.state_changed = await database_now(session)
    await session.flush()
    verb = "Registered new" if created else "Agent connected for"
    ctx = await system_context(session, deps)
    await host_event(ctx, host, "HOST.CONNECT", f"{verb} host {host.name}")
    return host, key


@dataclass(frozen=True)
class AgentHost:
    """The host an authenticated agent speaks for (no inventory joins: heartbeats are hot)."""

    id: int
    uuid: str
    resource_state: str


async def authenticate(session: AsyncSession, host_uuid: str, key: str) -> AgentHost:
    """The host an agent speaks for; 401 if the key is not its current one."""
    row = (
        await session.execute(
            select(Host.id, Host.agent_key_hash, Host.resource_state).where(
                Host.uuid == host_uuid, Host.removed.is_(None)
            )
        )
    ).first()
    if (
        row is None
        or row.agent_key_hash is None
        or not hmac.compare_digest(row.agent_key_hash, _hash(key))
    ):
        raise AuthenticationError("Unknown host or agent key; register again")
    return AgentHost(row.id, host_uuid, row.resource_state)


# --- heartbeats ---


async def heartbeat(
    session: AsyncSession,
    deps: Dependencies,
    hosts: ColumnElement[bool],
    reports: Mapping[int, Mapping[str, str]],
) -> int:
    """Record one heartbeat of every host matching ``hosts``, in one transaction.

    ``hosts`` is a condition on ``Host`` (one host for an HTTP agent, every simulated
    host for the fleet), so a heartbeat of 10,000 hosts is one ``UPDATE``. ``reports``
    holds the power states of the hosts to reconcile (every VM the agent sees); a host
    left out of it reported nothing new. A host that was not Up comes Up here, with an
    event. Returns how many hosts came Up.
    """
    now = await database_now(session)
    live = and_(hosts, Host.removed.is_(None))
    await session.execute(
        update(Host)
        .where(live, Host.state == HostState.UP)
        .values(last_heartbeat=now)
        .execution_options(synchronize_session=False)
    )
    coming_up = list(
        await session.scalars(
            select(Host).where(live, Host.state != HostState.UP).options(lazyload("*"))
        )
    )
    if coming_up:
        ctx = await system_context(session, deps)
        for host in coming_up:
            previous = host.state
            host.state, host.state_changed, host.last_heartbeat = HostState.UP, now, now
            await host_event(ctx, host, "HOST.UP", f"Host {host.name} is Up (was {previous})")
        await session.flush()
    # An empty report says something only about VMs the database places on the host.
    silent = await _hosts_with_vms(session, [h for h, reported in reports.items() if not reported])
    for host_id, reported in reports.items():
        if reported or host_id in silent:
            await reconcile_power_states(session, host_id, reported)
    return len(coming_up)


#: Host ids per ``IN (...)``: below every backend's limit of bound parameters.
_CHUNK = 5000


async def _hosts_with_vms(session: AsyncSession, host_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(host_ids), _CHUNK):
        found.update(
            host_id
            for host_id in await session.scalars(
                select(VirtualMachine.host_id)
                .where(
                    VirtualMachine.host_id.in_(host_ids[start : start + _CHUNK]),
                    VirtualMachine.removed.is_(None),
                )
                .distinct()
            )
            if host_id is not None
        )
    return found


# --- commands ---


def _deliverable(settings: Settings, now: datetime) -> ColumnElement[bool]:
    stale = now - redelivery_after(settings)
    return or_(
        HostCommand.state == CommandState.PENDING,
        and_(HostCommand.state == CommandState.SENT, HostCommand.sent < stale),
    )


async def has_deliverable(
    session: AsyncSession, settings: Settings, hosts: ColumnElement[bool]
) -> bool:
    """Whether ``take_commands`` would find anything: a cheap read before a write."""
    now = await database_now(session)
    found = await session.scalar(
        select(HostCommand.id)
        .join(Host, Host.id == HostCommand.host_id)
        .where(hosts, _deliverable(settings, now))
        .limit(1)
    )
    return found is not None


async def requeue_sent(session: AsyncSession, hosts: ColumnElement[bool]) -> int:
    """Hand the ``Sent`` commands of the matching hosts out again now; how many.

    For when the agent they were handed to is known to be gone (the simulator lease
    changed hands): waiting for the redelivery time would stall their jobs for nothing.
    A command the old agent did finish is answered once; the later answer changes nothing.
    """
    requeued = await session.execute(
        update(HostCommand)
        .where(
            HostCommand.state == CommandState.SENT,
            HostCommand.host_id.in_(select(Host.id).where(hosts)),
        )
        .values(state=CommandState.PENDING)
        .execution_options(synchronize_session=False)
    )
    return rowcount(requeued)


async def take_commands(
    session: AsyncSession, settings: Settings, hosts: ColumnElement[bool], *, limit: int = 1000
) -> list[tuple[int, Delivery]]:
    """Mark the deliverable commands of the hosts matching ``hosts`` ``Sent``; return them.

    ``hosts`` is a condition on ``Host`` (one host for an HTTP agent, every simulated
    host for the fleet). Oldest first, so an agent runs a VM's commands in order.

    Only the rows this ``UPDATE`` itself marked are returned (``RETURNING``): another
    server's long poll may take some of the same candidates at the same moment, and a
    command must be handed out once, not once per server that saw it deliverable.
    """
    now = await database_now(session)
    candidates = (
        select(HostCommand.id)
        .join(Host, Host.id == HostCommand.host_id)
        .where(hosts, _deliverable(settings, now))
        .order_by(HostCommand.id)
        .limit(limit)
    )
    candidate_ids = list(await session.scalars(candidates))
    if not candidate_ids:
        return []
    taken = await session.execute(
        update(HostCommand)
        .where(HostCommand.id.in_(candidate_ids), _deliverable(settings, now))
        .values(state=CommandState.SENT, sent=now, deliveries=HostCommand.deliveries + 1)
        .returning(
            HostCommand.id,
            HostCommand.host_id,
            HostCommand.uuid,
            HostCommand.kind,
            HostCommand.payload,
        )
        .execution_options(synchronize_session=False)
    )
    rows = sorted(taken.all(), key=lambda row: row.id)  # RETURNING has no defined order
    return [
        (row.host_id, Delivery(id=row.uuid, kind=row.kind, payload=orjson.loads(row.payload)))
        for row in rows
    ]


async def record_answers(
    session: AsyncSession, answers: Iterable[Answer], hosts: ColumnElement[bool]
) -> list[str]:
    """Store agents' answers; the ids of the commands they finished.

    ``hosts`` is a condition on ``Host`` naming the hosts the caller speaks for (the
    authenticated agent's host, or the fleet's simulated hosts): an answer to another
    host's command is ignored, so one host's key cannot finish (or forge the result of)
    another host's commands. Late answers to a command already cancelled or answered
    are ignored too.
    """
    finished: list[str] = []
    now = utcnow()
    speaker = select(Host.id).where(hosts)
    for answer in answers:
        done = await session.execute(
            update(HostCommand)
            .where(
                HostCommand.uuid == answer.id,
                HostCommand.host_id.in_(speaker),
                HostCommand.state.in_([CommandState.PENDING, CommandState.SENT]),
            )
            .values(
                state=CommandState.FAILED if answer.failed else CommandState.DONE,
                result=orjson.dumps(answer.result).decode(),
                completed=now,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(done):
            finished.append(answer.id)
    return finished
