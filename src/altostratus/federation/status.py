"""What this region knows of its own replication, for operators.

Two kinds of facts, both in the database so that every management server of the region
answers the same: the outcome of the pulls from each peer (reachable, last success or
error, lag), written by whichever server pulled; and the replication state itself (the
version vector, entries still waiting to apply, the audit helper's last results).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.clock import database_now
from altostratus.db.models import (
    PeerPull,
    Region,
    ReplicationEntry,
    ReplicationVector,
    SystemValue,
)
from altostratus.db.upsert import insert_for

__all__ = [
    "AUDIT_PREFIX",
    "PeerRegion",
    "PeerStatus",
    "StoredState",
    "forget_pulls_except",
    "read_peers",
    "read_pull_status",
    "read_stored_state",
    "read_vector",
    "record_pull",
]

#: ``system_values`` rows ``audit:<peer id>`` hold the audit's last result per peer (JSON).
AUDIT_PREFIX = "audit:"


@dataclass(frozen=True)
class PeerStatus:
    """The outcome of this region's pulls from one peer region."""

    region_id: int
    reachable: bool
    last_success: datetime | None
    last_error: str | None
    entries_pulled: int
    #: Seconds since the last successful pull; unknown before the first one.
    lag_seconds: float | None


async def record_pull(
    session: AsyncSession,
    region_id: int,
    *,
    reachable: bool,
    stored: int = 0,
    error: str | None = None,
) -> None:
    """Record one pull from ``region_id``: a success when ``error`` is None."""
    now = await database_now(session)
    succeeded = error is None
    row = {
        "reachable": reachable,
        "last_attempt": now,
        "last_error": error,
        **({"last_success": now} if succeeded else {}),
    }
    statement = insert_for(session, PeerPull).values(
        region_id=region_id, entries_pulled=stored, **row
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["region_id"],
            set_={**row, "entries_pulled": PeerPull.entries_pulled + stored},
        )
    )


async def forget_pulls_except(session: AsyncSession, region_ids: Iterable[int]) -> None:
    """Forget regions that left the registry, so they stop showing as lagging."""
    await session.execute(delete(PeerPull).where(PeerPull.region_id.not_in(list(region_ids))))


async def read_pull_status(session: AsyncSession) -> dict[int, PeerStatus]:
    """Per peer region pulled from at least once, the outcome of its last pull."""
    now = await database_now(session)
    return {
        row.region_id: PeerStatus(
            region_id=row.region_id,
            reachable=row.reachable,
            last_success=row.last_success,
            last_error=row.last_error,
            entries_pulled=row.entries_pulled,
            lag_seconds=(
                round(max(0.0, (now - row.last_success).total_seconds()), 3)
                if row.last_success
                else None
            ),
        )
        for row in await session.scalars(select(PeerPull))
    }


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
