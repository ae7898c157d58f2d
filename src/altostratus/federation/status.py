"""What this region knows of its own replication, for operators.

Two kinds of facts: the per-peer results of this server process's pulls (reachable, last
success or error, lag), kept in memory because each management server pulls on its own
and a restart learns them again within one tick; and what the database says (the version
vector, entries still waiting to apply, the audit helper's last results).

``ReplicationStatus`` also carries the puller's wake-up signal, so the ``notify`` endpoint
can start a pull without knowing the puller: both are what this process knows and wants
of its replication, reachable from a request through ``Dependencies``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Region, ReplicationEntry, ReplicationVector, SystemValue
from altostratus.timeutil import utcnow

__all__ = [
    "AUDIT_PREFIX",
    "PeerRegion",
    "PeerStatus",
    "ReplicationStatus",
    "StoredState",
    "read_peers",
    "read_stored_state",
    "read_vector",
]

#: ``system_values`` rows ``audit:<peer id>`` hold the audit's last result per peer (JSON).
AUDIT_PREFIX = "audit:"


@dataclass
class PeerStatus:
    """The outcome of this process's pulls from one peer region."""

    region_id: int
    reachable: bool = False
    last_success: datetime | None = None
    last_error: str | None = None
    entries_pulled: int = 0

    def lag_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds since the last successful pull; unknown before the first one."""
        if self.last_success is None:
            return None
        return round(max(0.0, ((now or utcnow()) - self.last_success).total_seconds()), 3)


class ReplicationStatus:
    """Per-peer pull results of this process, and the puller's wake-up signal."""

    def __init__(self) -> None:
        self._peers: dict[int, PeerStatus] = {}
        self._woken: set[int] = set()
        self._wake = asyncio.Event()

    def peer(self, region_id: int) -> PeerStatus | None:
        return self._peers.get(region_id)

    def peers(self) -> list[PeerStatus]:
        return [self._peers[region_id] for region_id in sorted(self._peers)]

    def _entry(self, region_id: int) -> PeerStatus:
        return self._peers.setdefault(region_id, PeerStatus(region_id))

    def record_success(self, region_id: int, pulled: int) -> None:
        status = self._entry(region_id)
        status.reachable = True
        status.last_success = utcnow()
        status.last_error = None
        status.entries_pulled += pulled

    def record_failure(self, region_id: int, error: str, *, reachable: bool) -> None:
        status = self._entry(region_id)
        status.reachable = reachable
        status.last_error = error

    def keep_only(self, region_ids: Iterable[int]) -> None:
        """Forget regions that left the registry, so they stop showing as lagging."""
        keep = set(region_ids)
        for region_id in list(self._peers):
            if region_id not in keep:
                del self._peers[region_id]

    def wake(self, region_id: int) -> None:
        """Ask the puller to pull from ``region_id`` now (it committed something)."""
        self._woken.add(region_id)
        self._wake.set()

    async def wait(self, seconds: float) -> set[int]:
        """Wait for a wake-up or ``seconds``; answer the regions woken meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()
        woken, self._woken = self._woken, set()
        return woken


@dataclass(frozen=True)
class PeerRegion:
    """A region of the registry other than this one."""

    id: int
    name: str
    endpoint: str


async def read_peers(session: AsyncSession, local_region_id: int) -> list[PeerRegion]:
    regions = await session.scalars(
        select(Region).where(Region.id != local_region_id).order_by(Region.id)
    )
    return [PeerRegion(r.id, r.name, r.endpoint) for r in regions]


@dataclass(frozen=True)
class StoredState:
    """The replication state in this region's database."""

    #: Per origin, the highest seq stored here.
    vector: dict[int, int]
    #: Received entries still waiting for what they refer to.
    pending: int
    #: The audit's last result per peer, as the audit wrote it.
    audits: list[dict[str, Any]]


async def read_vector(session: AsyncSession) -> dict[int, int]:
    """Per origin, the highest seq stored here (the ``after`` of a pull)."""
    return {row.origin: row.seq for row in await session.scalars(select(ReplicationVector))}


async def read_stored_state(session: AsyncSession) -> StoredState:
    vector = await read_vector(session)
    pending = await session.scalar(
        select(func.count())
        .select_from(ReplicationEntry)
        .where(ReplicationEntry.applied.is_(False))
    )
    rows = await session.scalars(
        select(SystemValue)
        .where(SystemValue.name.startswith(AUDIT_PREFIX, autoescape=True))
        .order_by(SystemValue.name)
    )
    audits = [_audit(row) for row in rows]
    return StoredState(vector=vector, pending=int(pending or 0), audits=audits)


def _audit(row: SystemValue) -> dict[str, Any]:
    """An audit row's JSON object; a damaged row is shown as such rather than hidden."""
    try:
        value = orjson.loads(row.value)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        return {"name": row.name, "error": "unreadable audit result"}
    return value
