"""Named leases: region-wide work that one management server does at a time.

A lease row names its holder and an expiry. The holder renews it well before it runs
out; another server takes it over only once it expired, and the ``epoch`` then moves
on, so a holder that was paused past its expiry can tell it lost the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.failover import DATABASE_ERRORS
from altostratus.db.models import Lease
from altostratus.db.rows import rowcount

__all__ = ["LeaseHolder", "hold_lease", "release_lease", "uninterrupted"]

T = TypeVar("T")


async def hold_lease(session: AsyncSession, name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``owner``; False while another holds it."""
    now = await database_now(session)
    expires = now + timedelta(seconds=seconds)
    renewed = await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner, Lease.expires >= now)
        .values(expires=expires)
    )
    if rowcount(renewed):
        return True
    taken = await session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.expires < now, Lease.owner == owner))
        .values(owner=owner, expires=expires, epoch=Lease.epoch + 1)
    )
    if rowcount(taken):
        return True
    if await session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(Lease(name=name, owner=owner, expires=expires, epoch=1))
    except IntegrityError:
        return False  # another server created it first
    return True


async def release_lease(session: AsyncSession, name: str, owner: str) -> None:
    """Let another server take the lease at once (a clean shutdown)."""
    await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner)
        .values(expires=await database_now(session))
    )


class LeaseHolder:
    """One server's hold on the lease ``name``, for work done in rounds.

    ``acquire()`` takes or renews the lease at the start of a round. ``valid`` stays true
    only until the lease could have run out as seen from the database: the deadline is
    counted from before the renewal began, so the holder stops its work before another
    server may take the lease. The expiry is the database's time (``db/clock.py``), so
    the servers' own clocks need not agree.
    """

    def __init__(self, db: Database, name: str, owner: str, seconds: float) -> None:
        self._db = db
        self.name = name
        self._owner = owner
        self._seconds = seconds
        self._valid_until = 0.0

    @property
    def valid(self) -> bool:
        return time.monotonic() < self._valid_until

    async def acquire(self) -> bool:
        """Take or renew the lease; False (and not ``valid``) while another server holds it."""
        started = time.monotonic()
        async with self._db.transaction() as session:
            held = await hold_lease(session, self.name, self._owner, self._seconds)
        self._valid_until = started + self._seconds if held else 0.0
        return held

    async def release(self) -> None:
        """Hand the lease over at once (a clean shutdown), even while being cancelled; if
        the database is unavailable the lease simply runs out."""
        if not self._valid_until:
            return
        self._valid_until = 0.0
        with contextlib.suppress(*DATABASE_ERRORS):
            await uninterrupted(self._release())

    async def _release(self) -> None:
        async with self._db.transaction() as session:
            await release_lease(session, self.name, self._owner)


async def uninterrupted(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    A worker stopped at shutdown must not abandon a transaction half-way: a connection
    interrupted mid-statement is thrown away, and with aiosqlite its closing can outlive
    the engine (or an open transaction keeps SQLite's write lock). Workers therefore stop
    between ticks, never inside one, however many times they are cancelled: a task that
    gathers its children cancels them once and then again in its own clean-up.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()
