"""Named leases: region-wide work that one management server does at a time.

A lease row names its holder and an expiry. The holder renews it well before it runs
out; another server takes it over only once it expired, and the ``epoch`` then moves
on, so a holder that was paused past its expiry can tell it lost the lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Lease
from altostratus.timeutil import utcnow

__all__ = ["hold_lease", "release_lease", "uninterrupted"]

T = TypeVar("T")


async def hold_lease(session: AsyncSession, name: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``owner``; False while another holds it."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    renewed = await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner, Lease.expires >= now)
        .values(expires=expires)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    taken = await session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.expires < now, Lease.owner == owner))
        .values(owner=owner, expires=expires, epoch=Lease.epoch + 1)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
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
        update(Lease).where(Lease.name == name, Lease.owner == owner).values(expires=utcnow())
    )


async def uninterrupted(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    A worker stopped at shutdown must not abandon a transaction half-way: a connection
    interrupted mid-statement is thrown away, and with aiosqlite its closing can outlive
    the engine. Workers therefore stop between ticks, never inside one.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
