"""Coordination between management servers does not depend on their clocks agreeing.

One process plays two servers; ``time_machine`` moves this process's clock (Python's
``time`` and ``datetime``) for the server whose clock is wrong. The databases' clocks
(PostgreSQL's, and SQLite's own reading of the system clock) are left alone, as they
would be on a real server whose NTP failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.core.context import Dependencies
from altostratus.core.leases import LeaseHolder
from altostratus.db.clock import database_now
from altostratus.db.models import AsyncJob, Host, ManagementServer
from altostratus.ha.membership import MembershipMonitor
from altostratus.jobs.executor import Executor, JobHandler
from altostratus.jobs.kinds import JobPayload
from altostratus.jobs.run import JobRun
from altostratus.jobs.status import JobStatus
from altostratus.runtime import Runtime
from altostratus.services.agents import link as agent_link
from altostratus.services.infrastructure.host_monitor import HostMonitor
from altostratus.timeutil import utcnow
from tests.support.compute_world import ComputeWorld, wait_hosts_up

AN_HOUR = timedelta(hours=1)


@contextlib.contextmanager
def clock_off_by(offset: timedelta) -> Iterator[None]:
    """This process's clock runs ``offset`` ahead (or behind) while the block runs."""
    with time_machine.travel(utcnow() + offset, tick=True):
        yield


def _runtime(app: Starlette) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def _peer(runtime: Runtime, server_id: str) -> Dependencies:
    return dataclasses.replace(runtime.deps, server_id=server_id)


async def test_the_database_clock_is_not_the_servers(app: Starlette) -> None:
    db = _runtime(app).db
    with clock_off_by(AN_HOUR):
        async with db.transaction(write=False) as session:
            moment = await database_now(session)
        assert abs(moment + AN_HOUR - utcnow()) < timedelta(seconds=5)


async def test_a_server_whose_clock_runs_ahead_cannot_take_a_held_lease(app: Starlette) -> None:
    db = _runtime(app).db
    holder = LeaseHolder(db, "clock-work", "server-a", 30.0)
    fast = LeaseHolder(db, "clock-work", "server-b", 30.0)
    assert await holder.acquire()
    with clock_off_by(AN_HOUR):
        assert not await fast.acquire()
    assert await holder.acquire()


async def test_a_server_whose_clock_runs_behind_is_not_declared_down(app: Starlette) -> None:
    runtime = _runtime(app)
    slow = MembershipMonitor(runtime.db, _peer(runtime, "slow-clock:1:abc"))
    with clock_off_by(-AN_HOUR):
        await slow.run_once()
    assert await MembershipMonitor(runtime.db, runtime.deps).run_once() == []
    async with runtime.db.transaction(write=False) as session:
        state = await session.scalar(
            select(ManagementServer.state).where(ManagementServer.server_id == "slow-clock:1:abc")
        )
    assert state == "Up"


async def test_a_server_whose_clock_runs_ahead_leaves_a_peers_job_alone(app: Starlette) -> None:
    runtime = _runtime(app)
    async with runtime.db.transaction() as session:
        job = AsyncJob(
            command="clockwork",
            user_uuid="u",
            account_uuid="a",
            domain_path="ROOT/",
            kind="clockwork",
            payload="{}",
            owner="server-a",
            lease_expires=await database_now(session) + timedelta(seconds=300),
            attempts=1,
        )
        session.add(job)
    started: list[str] = []

    async def clockwork(run: JobRun, payload: JobPayload) -> dict[str, Any]:
        started.append(run.job_uuid)
        return {}

    handlers = {"clockwork": JobHandler(JobPayload, clockwork)}
    fast = Executor(runtime.db, _peer(runtime, "server-b"), handlers)
    with clock_off_by(AN_HOUR):
        await fast.tick()
        await asyncio.sleep(0.1)  # a job claimed by mistake would have started by now
        await fast.stop()
    assert started == []
    async with runtime.db.transaction(write=False) as session:
        owner, status = (
            await session.execute(
                select(AsyncJob.owner, AsyncJob.status).where(AsyncJob.command == "clockwork")
            )
        ).one()
    assert (owner, status) == ("server-a", JobStatus.PENDING)


async def test_a_host_heard_by_a_server_whose_clock_runs_behind_stays_up(
    app: Starlette, compute: ComputeWorld
) -> None:
    """A host wrongly declared Down would have its VMs restarted elsewhere by host HA."""
    runtime = _runtime(app)
    await wait_hosts_up(runtime, compute.host_ids)
    remote = Host.uuid == compute.host_ids[0]
    async with runtime.db.transaction() as session:
        host = await session.scalar(select(Host).where(remote))
        assert host is not None
        host.url = "agent://host1"  # heard over HTTP, not driven by the simulator
    with clock_off_by(-AN_HOUR):
        async with runtime.db.transaction() as session:
            await agent_link.heartbeat(session, _peer(runtime, "slow-clock:1:abc"), remote, {})
    checked = await HostMonitor(runtime.db, runtime.deps).run_once()
    assert (checked.disconnected, checked.down) == (0, 0)
    async with runtime.db.transaction(write=False) as session:
        assert await session.scalar(select(Host.state).where(remote)) == "Up"


@pytest.mark.parametrize("offset", [AN_HOUR, -AN_HOUR])
async def test_a_lease_runs_out_on_the_databases_time(app: Starlette, offset: timedelta) -> None:
    """Whatever its clock, a server takes a lease once the holder stopped renewing it."""
    db = _runtime(app).db
    holder = LeaseHolder(db, "expiring-work", "server-a", 0.3)
    other = LeaseHolder(db, "expiring-work", "server-b", 0.3)
    assert await holder.acquire()
    await asyncio.sleep(0.4)
    with clock_off_by(offset):
        assert await other.acquire()
