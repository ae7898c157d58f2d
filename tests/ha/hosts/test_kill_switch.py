"""``host_ha = false``: the kill switch leaves every host as it is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import AsyncJob
from altostratus.ha.hosts.monitor import HostHaMonitor
from altostratus.settings import Settings
from tests.conftest import Template
from tests.conftest import test_settings as settings_for
from tests.ha.hosts.support import enable_ha, hastate, silence
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up


@pytest.fixture
def settings(database: tuple[str, Template], tmp_path: Path, key_file: Path) -> Settings:
    return settings_for(tmp_path / "data", database[0], key_file, host_ha=False)


async def test_a_silent_host_is_left_alone(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    runtime = app.state.runtime
    await wait_hosts_up(runtime, compute.host_ids)
    host_id = compute.host_ids[0]
    await enable_ha(api, host_id)
    await silence(runtime, host_id)
    done = await HostHaMonitor(runtime.db, runtime.deps).run_once()
    assert str(done) == "host HA is switched off (host_ha = false)"
    await asyncio.sleep(2 * runtime.settings.heartbeat_interval)
    assert (await hastate(api, host_id))["hastate"] == "Available"
    async with runtime.db.transaction(write=False) as session:
        jobs = await session.scalars(select(AsyncJob).where(AsyncJob.kind == "ha.investigateHost"))
        assert jobs.all() == []
