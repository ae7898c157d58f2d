"""A server taking the simulator lease over delivers at once what the old holder was handed.

No background workers here: the test plays both servers' fleets by hand.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Host, HostCommand, Lease
from altostratus.db.models.hosts import CommandState
from altostratus.runtime import Runtime
from altostratus.services.agents import simulator_fleet as fleet_module
from altostratus.services.agents.simulator_fleet import SimulatorFleet
from altostratus.settings import Settings
from altostratus.timeutil import utcnow
from tests import conftest
from tests.support.compute_world import ComputeWorld


@pytest.fixture
def settings(database: tuple[str, Any], tmp_path: Path, key_file: Path) -> Settings:
    return conftest.test_settings(tmp_path / "data", database[0], key_file, compute_workers=False)


def _fleet(runtime: Runtime, server_id: str) -> SimulatorFleet:
    return SimulatorFleet(runtime.db, dataclasses.replace(runtime.deps, server_id=server_id))


async def test_commands_sent_to_a_dead_holder_are_delivered_by_the_next(
    app: Starlette, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    first = _fleet(runtime, "first")
    assert (await first.run_once()).held
    async with runtime.db.transaction() as session:
        host_id = await session.scalar(select(Host.id).where(Host.uuid == compute.host_ids[0]))
        assert host_id is not None
        command = HostCommand(
            host_id=host_id, kind="StopVm", payload='{"instance_name": "i-1-1-VM"}'
        )
        session.add(command)
    assert await first.deliver_once() == 1  # handed to "first", which then dies
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Lease)
            .where(Lease.name == fleet_module.LEASE)
            .values(expires=utcnow() - timedelta(seconds=1))
        )

    successor = _fleet(runtime, "successor")
    assert (await successor.run_once()).held
    # Well within the redelivery time, which would otherwise hold the command back.
    assert await successor.deliver_once() == 1
    async with runtime.db.transaction(write=False) as session:
        deliveries = await session.scalar(
            select(HostCommand.deliveries).where(HostCommand.uuid == command.uuid)
        )
        state = await session.scalar(
            select(HostCommand.state).where(HostCommand.uuid == command.uuid)
        )
    assert (deliveries, state) == (2, CommandState.SENT)
