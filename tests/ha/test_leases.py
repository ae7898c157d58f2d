"""Leases for region-wide work, and workers that stop between ticks, never inside one."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette

from altostratus.core.leases import LeaseHolder, uninterrupted
from altostratus.db.engine import Database


def _db(app: Starlette) -> Database:
    db: Database = app.state.runtime.db
    return db


async def test_one_server_at_a_time_holds_a_lease(app: Starlette) -> None:
    first = LeaseHolder(_db(app), "test-work", "server-a", 30.0)
    second = LeaseHolder(_db(app), "test-work", "server-b", 30.0)
    assert await first.acquire()
    assert first.valid
    assert not await second.acquire()
    assert not second.valid
    assert await first.acquire()  # renewing is taking it again
    await first.release()
    assert not first.valid
    assert await second.acquire()
    assert second.valid


async def test_a_holder_stops_before_another_may_take_its_lease(app: Starlette) -> None:
    holder = LeaseHolder(_db(app), "short-work", "server-a", 0.3)
    other = LeaseHolder(_db(app), "short-work", "server-b", 0.3)
    assert await holder.acquire()
    assert not await other.acquire()
    await asyncio.sleep(0.35)
    # Not renewed: the holder's own view ran out no later than the database's.
    assert not holder.valid
    assert await other.acquire()
    assert not await holder.acquire()


async def test_work_runs_to_its_end_however_often_the_worker_is_cancelled() -> None:
    finished = asyncio.Event()

    async def tick() -> None:
        await asyncio.sleep(0.2)
        finished.set()

    worker = asyncio.create_task(uninterrupted(tick()))
    await asyncio.sleep(0.05)
    worker.cancel()
    await asyncio.sleep(0.05)
    worker.cancel()  # as a gathering task's clean-up cancels its children again
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert finished.is_set()
