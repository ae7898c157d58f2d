"""The host monitor: hosts whose heartbeats stopped go Disconnected, then Down.

It runs under the ``host-monitor`` lease, so one server of the region decides. A host
is Disconnected after ``host_disconnect_after`` seconds without a heartbeat and Down
after ``host_down_after``; each change is an event. A host that registered but never
sent a heartbeat is timed from when it entered its state (else its creation). It only
says what the heartbeats say: deciding that a silent host is dead, fencing it and
restarting its VMs is host HA's work (``ha.hosts``), which needs proof, not silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update

from altostratus.core.context import Dependencies
from altostratus.core.leases import hold_lease
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import Host
from altostratus.db.models.hosts import HostState
from altostratus.db.rows import rowcount
from altostratus.services.infrastructure.hosts import host_event, system_context

__all__ = ["LEASE", "Checked", "HostMonitor", "last_heard"]

LEASE = "host-monitor"

#: (from states, to state, event type) in the order they are checked.
_SILENT_FOR = (
    ((HostState.UP, HostState.CONNECTING), HostState.DISCONNECTED, "HOST.DISCONNECTED"),
    ((HostState.DISCONNECTED, HostState.UP, HostState.CONNECTING), HostState.DOWN, "HOST.DOWN"),
)


def last_heard() -> ColumnElement[datetime]:
    """When the host last gave a sign of life: its last heartbeat, else when it entered
    its state (registration), else its creation.

    Without the fallbacks a host that registered but never heartbeated would stay
    Connecting forever.
    """
    return func.coalesce(Host.last_heartbeat, Host.state_changed, Host.created)


@dataclass(frozen=True)
class Checked:
    """One pass of the monitor; its sentence is the log line."""

    disconnected: int = 0
    down: int = 0
    held: bool = True

    def __str__(self) -> str:
        if not self.held:
            return "another server holds the host-monitor lease"
        return f"{self.disconnected} host(s) went Disconnected, {self.down} Down"


class HostMonitor:
    """A worker (``core.worker``); its lease is renewed in the transaction that moves hosts."""

    name = "host-monitor"
    lease = None
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._deps = deps
        settings = deps.settings
        self.interval = min(settings.heartbeat_interval, settings.host_disconnect_after / 3)
        self._lease_seconds = max(3 * self.interval, 1.0)

    async def tick(self) -> Tick:
        checked = await self.run_once()
        return Tick(str(checked), changed=bool(checked.disconnected or checked.down))

    async def run_once(self) -> Checked:
        settings = self._deps.settings
        changed: list[int] = []
        async with self._db.transaction() as session:
            if not await hold_lease(session, LEASE, self._deps.server_id, self._lease_seconds):
                return Checked(held=False)
            now = await database_now(session)
            limits = (
                now - timedelta(seconds=settings.host_disconnect_after),
                now - timedelta(seconds=settings.host_down_after),
            )
            for (sources, target, event_type), silent_since in zip(
                _SILENT_FOR, (limits[0], limits[1]), strict=True
            ):
                hosts = list(
                    await session.scalars(
                        select(Host)
                        .where(
                            Host.removed.is_(None),
                            Host.state.in_(sources),
                            last_heard() < silent_since,
                        )
                        .execution_options(populate_existing=True)
                    )
                )
                # Count the hosts actually moved: a heartbeat may win the race for one.
                moved_count = 0
                for host in hosts:
                    moved = await session.execute(
                        update(Host)
                        .where(Host.id == host.id, Host.state == host.state)
                        .values(state=target, state_changed=now)
                        .execution_options(synchronize_session=False)
                    )
                    if rowcount(moved):
                        moved_count += 1
                        await host_event(
                            await system_context(session, self._deps),
                            host,
                            event_type,
                            f"Host {host.name} is {target}: {_silence(host)}",
                        )
                changed.append(moved_count)
        return Checked(disconnected=changed[0], down=changed[1])


def _silence(host: Host) -> str:
    """Since when the host has been silent, for the event text."""
    if host.last_heartbeat is not None:
        return f"no heartbeat since {host.last_heartbeat:%Y-%m-%d %H:%M:%S}"
    since = host.state_changed or host.created
    return f"no heartbeat since it registered ({since:%Y-%m-%d %H:%M:%S})"
