"""The worker that shares this server's counts with the region (``core/region_counts.py``).

Every ``counter_flush_interval`` seconds, in one transaction: add what this server counted
since the last round to its own rows (``INSERT … ON CONFLICT`` adding to the count: each
server writes only its own rows, so servers never wait on each other), read back every
server's rows of the keys touched since, measure the offset of this server's clock from
the database's, count the live servers, and clear this server's rows of windows that
have passed. A round with nothing counted or touched does not reach the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TypeVar

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.leases import LeaseHolder
from altostratus.core.region_counts import Batch, ReadRow, RegionCounts, WindowKey
from altostratus.core.worker import Tick, WakeUp
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import ManagementServer, RegionCounter
from altostratus.db.models.servers import ServerState
from altostratus.db.upsert import insert_for

__all__ = ["CounterFlusher", "flush_once"]

#: Keys per ``IN (…)`` of a read-back.
_KEYS_PER_QUERY = 500
#: Rows of a server that stopped are cleared by the others once this many windows old.
_STALE_WINDOWS = 4

T = TypeVar("T")


def _batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


async def flush_once(db: Database, counts: RegionCounts) -> Batch | None:
    """One flush; the batch it settled, or ``None`` when there was nothing to do."""
    batch = counts.take_batch()
    if batch is None:
        return None
    try:
        async with db.transaction(write=bool(batch.increments)) as session:
            before = counts.clock()
            now = (await database_now(session)).timestamp()
            counts.offset = now - (before + counts.clock()) / 2
            if batch.increments:
                await _add(session, counts.server_id, batch)
                await _clear_old(session, counts, now)
            rows = await _read(session, batch.reads)
            live = await session.scalar(
                select(func.count())
                .select_from(ManagementServer)
                .where(ManagementServer.state == ServerState.UP)
            )
    except BaseException:
        counts.restore(batch)
        raise
    counts.live_servers = max(1, live or 0)
    counts.settle(batch, rows)
    return batch


async def _add(session: AsyncSession, server_id: str, batch: Batch) -> None:
    rows = [
        {
            "namespace": inc.window.namespace,
            "key": inc.window.key,
            "window_start": inc.window.start,
            "window_seconds": inc.window.seconds,
            "server_id": server_id,
            "count": inc.count,
        }
        for inc in batch.increments
    ]
    for chunk in _batched(rows, _KEYS_PER_QUERY):
        insert = insert_for(session, RegionCounter).values(list(chunk))
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[
                    "namespace",
                    "key",
                    "window_start",
                    "window_seconds",
                    "server_id",
                ],
                set_={"count": RegionCounter.count + insert.excluded.count},
            )
        )


async def _read(session: AsyncSession, reads: tuple[WindowKey, ...]) -> list[ReadRow]:
    """Every server's rows of the windows read and of the windows before them."""
    keys_by_window: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for window in reads:
        keys_by_window[(window.namespace, window.seconds, window.start)].append(window.key)
    found = []
    for (namespace, seconds, start), keys in keys_by_window.items():
        for chunk in _batched(keys, _KEYS_PER_QUERY):
            result = await session.execute(
                select(
                    RegionCounter.key,
                    RegionCounter.window_start,
                    RegionCounter.server_id,
                    RegionCounter.count,
                ).where(
                    RegionCounter.namespace == namespace,
                    RegionCounter.window_seconds == seconds,
                    RegionCounter.window_start.in_((start, start - seconds)),
                    RegionCounter.key.in_(chunk),
                )
            )
            found += [
                ReadRow(WindowKey(namespace, key, row_start, seconds), server, count)
                for key, row_start, server, count in result.all()
            ]
    return found


async def _clear_old(session: AsyncSession, counts: RegionCounts, now: float) -> None:
    """This server's rows before the previous window; anyone's long after (a dead server's)."""
    for namespace, seconds in counts.counted_windows():
        current = int(now // seconds) * seconds
        mine_passed = and_(
            RegionCounter.server_id == counts.server_id,
            RegionCounter.window_seconds == seconds,
            RegionCounter.window_start < current - seconds,
        )
        stale = RegionCounter.window_start + RegionCounter.window_seconds * _STALE_WINDOWS < now
        await session.execute(
            delete(RegionCounter).where(
                RegionCounter.namespace == namespace, or_(mine_passed, stale)
            )
        )


class CounterFlusher:
    """Runs ``flush_once`` every ``interval`` seconds, on every server (no lease)."""

    name = "region-counts"
    lease: LeaseHolder | None = None
    wake_up: WakeUp | None = None
    run_at_start = False

    def __init__(self, db: Database, counts: RegionCounts, interval: float) -> None:
        self._db = db
        self._counts = counts
        self.interval = interval

    async def tick(self) -> Tick:
        batch = await flush_once(self._db, self._counts)
        if batch is None:
            return Tick("nothing counted")
        return Tick(
            f"added {len(batch.increments)} counts, read {len(batch.reads)} keys "
            f"({self._counts.live_servers} servers up)"
        )
