"""Management-server membership: each server heartbeats its row; peers declare it Down.

Every server of the region writes its ``management_servers`` row every
``server_heartbeat_interval``, and in the same transaction declares Down any peer that
has been silent for ``server_down_after``. Declaring a peer Down hands its jobs back at
once (their claims expire now instead of at the end of their lease), so survivors
resume them sooner; the fencing of job steps (``attempts``) keeps a server that was only
slow from committing after that. Agents need nothing from here: they reconnect to any
server through their endpoint list or the load balancer.
"""

from __future__ import annotations

import logging
import platform
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus import __version__
from altostratus.core.context import Dependencies, ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS
from altostratus.db.models import AsyncJob, ManagementServer
from altostratus.db.models.servers import ServerState
from altostratus.db.rows import rowcount
from altostratus.jobs.status import JobStatus
from altostratus.services.infrastructure.hosts import system_context
from altostratus.services.shared.events import record_event

__all__ = [
    "MembershipMonitor",
    "ServerIdentity",
    "declare_silent_down",
    "heartbeat",
    "list_servers",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerIdentity:
    """What a server says about itself in its row."""

    server_id: str
    name: str
    service_ip: str
    endpoint: str
    version: str
    python_version: str
    os_distribution: str
    kernel_version: str

    @classmethod
    def of_this_process(cls, server_id: str, endpoint: str) -> ServerIdentity:
        name = socket.gethostname()
        try:
            service_ip = socket.gethostbyname(name)
        except OSError:
            service_ip = "127.0.0.1"
        return cls(
            server_id=server_id,
            name=name,
            service_ip=service_ip,
            endpoint=endpoint,
            version=__version__,
            python_version=platform.python_version(),
            os_distribution=_os_distribution(),
            kernel_version=platform.release(),
        )


def _os_distribution() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", sys.platform)
    except OSError:
        return sys.platform


async def heartbeat(session: AsyncSession, identity: ServerIdentity, now: datetime) -> bool:
    """Mark this server alive; answer whether its row was (re)created or brought back Up.

    A server its peers declared Down while it was paused comes back Up here.
    """
    beat = await session.execute(
        update(ManagementServer)
        .where(ManagementServer.server_id == identity.server_id)
        .values(last_heartbeat=now, state=ServerState.UP, stopped=None)
        .returning(ManagementServer.state)
        .execution_options(synchronize_session=False)
    )
    if beat.first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                ManagementServer(
                    **asdict(identity), state=ServerState.UP, last_heartbeat=now, started=now
                )
            )
    except IntegrityError:
        return False  # a heartbeat of this same server got there first
    return True


async def declare_silent_down(
    session: AsyncSession, deps: Dependencies, now: datetime, silent_for: float
) -> list[ManagementServer]:
    """Declare Down every Up server silent for ``silent_for`` seconds; hand its jobs back."""
    limit = now - timedelta(seconds=silent_for)
    silent = list(
        await session.scalars(
            select(ManagementServer).where(
                ManagementServer.state == ServerState.UP,
                ManagementServer.last_heartbeat < limit,
            )
        )
    )
    if not silent:
        return []
    ctx = await system_context(session, deps)
    declared = []
    for server in silent:
        # Conditional: a heartbeat that lands meanwhile, or a peer declaring it first, wins.
        moved = await ctx.session.execute(
            update(ManagementServer)
            .where(
                ManagementServer.id == server.id,
                ManagementServer.state == ServerState.UP,
                ManagementServer.last_heartbeat < limit,
            )
            .values(state=ServerState.DOWN, stopped=now)
            .execution_options(synchronize_session=False)
        )
        if not rowcount(moved):
            continue
        released = await ctx.session.execute(
            update(AsyncJob)
            .where(AsyncJob.owner == server.server_id, AsyncJob.status == JobStatus.PENDING)
            .values(lease_expires=now)
            .execution_options(synchronize_session=False)
        )
        jobs = rowcount(released)
        await record_event(
            ctx,
            "MANAGEMENT.SERVER.DOWN",
            f"Management server {server.name} ({server.uuid}) missed its heartbeats for "
            f"{silent_for:g} s; {jobs} job(s) handed to the other servers",
            resource_type="ManagementServer",
            resource_uuid=server.uuid,
            level="WARN",
        )
        declared.append(server)
    return declared


async def list_servers(
    ctx: ServiceContext,
    *,
    uuid: str | None,
    name: str | None,
    state: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[ManagementServer]:
    query = select(ManagementServer).where(
        equal_if_given(
            (ManagementServer.uuid, uuid),
            (ManagementServer.name, name),
            (ManagementServer.state, state),
        ),
        keyword_filter(keyword, ManagementServer.name),
    )
    return await paginate(ctx.session, query.order_by(ManagementServer.id), page)


@dataclass(frozen=True)
class _Beat:
    #: This heartbeat (re)created the server's row.
    joined: bool
    declared: list[ManagementServer]

    def as_tick(self, server_id: str) -> Tick:
        parts = [f"management server {server_id} is Up" if self.joined else "heartbeat"]
        parts += [f"declared {server.server_id} Down" for server in self.declared]
        return Tick("; ".join(parts), changed=self.joined or bool(self.declared))


class MembershipMonitor:
    """This server's heartbeat, and its watch over its peers: a worker (``core.worker``)
    whose first round the server runs itself, before it serves."""

    name = "membership"
    lease = None
    wake_up = None
    run_at_start = False

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        self.identity = ServerIdentity.of_this_process(deps.server_id, deps.settings.endpoint)
        self.interval = deps.settings.server_heartbeat_interval

    async def tick(self) -> Tick:
        return (await self._beat()).as_tick(self._deps.server_id)

    async def leave(self) -> None:
        """A clean stop: Down now, so nobody waits for ``server_down_after``."""
        try:
            async with self._db.transaction() as session:
                now = await database_now(session)
                await session.execute(
                    update(ManagementServer)
                    .where(ManagementServer.server_id == self._deps.server_id)
                    .values(state=ServerState.DOWN, stopped=now, last_heartbeat=now)
                )
        except DATABASE_ERRORS:
            log.warning("cannot record this server's stop: database unavailable")

    async def run_once(self) -> list[ManagementServer]:
        """One heartbeat; answer the peers this round declared Down."""
        return (await self._beat()).declared

    async def _beat(self) -> _Beat:
        async with self._db.transaction() as session:
            now = await database_now(session)
            joined = await heartbeat(session, self.identity, now)
            declared = await declare_silent_down(
                session, self._deps, now, self._deps.settings.server_down_after
            )
        return _Beat(joined, declared)
