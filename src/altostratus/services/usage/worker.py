"""The usage meter: a worker under the region's ``usage`` lease (``core.worker``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from altostratus.core.context import Dependencies
from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.services.usage.meter import (
    first_activity,
    floor_period,
    generate,
    metered_until,
    set_metered_until,
)
from altostratus.timeutil import format_timestamp

__all__ = ["CATCH_UP", "SETTLE", "USAGE_LEASE", "UsageMeter"]

USAGE_LEASE = "usage"
#: A state change is written with its server's clock; a period is metered only once
#: this long has passed since its end, so a server a little behind has committed it.
SETTLE = timedelta(minutes=1)
#: At most this much is metered per round (one transaction), so a region with a long
#: history catches up over several rounds instead of in one huge transaction.
CATCH_UP = timedelta(days=7)


class UsageMeter:
    """Meters every whole period since the last round, in one transaction.

    One server of the region does it (the lease); if two ever overlap (a paused holder
    and its successor), the records' unique key keeps each one once.
    """

    name = USAGE_LEASE
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self._db = db
        self._minutes = deps.settings.usage_aggregation_range
        self.interval = deps.settings.usage_interval
        self.lease: LeaseHolder | None = LeaseHolder(
            db, USAGE_LEASE, deps.server_id, 1.5 * self.interval
        )

    async def tick(self, now: datetime | None = None) -> Tick:
        """One round; ``now`` (default: the database's clock) lets tests choose the time."""
        async with self._db.transaction() as session:
            current = now if now is not None else await database_now(session)
            until = floor_period(current - SETTLE, self._minutes)
            since = await metered_until(session) or await first_activity(session)
            if since is None or floor_period(since, self._minutes) >= until:
                return Tick(f"usage is metered up to {format_timestamp(until)}")
            since = floor_period(since, self._minutes)
            until = min(until, floor_period(since + CATCH_UP, self._minutes))
            added = await generate(session, since, until, self._minutes)
            await set_metered_until(session, until)
        return Tick(
            f"metered {added} usage records from {format_timestamp(since)} "
            f"to {format_timestamp(until)}",
            changed=added > 0,
        )
