"""A host that dies, proven off by the activity check: its HA VMs run again elsewhere.

Three hosts are real agents over HTTP (in this process, through the app's ASGI
transport), sharing a directory that stands for the cluster's primary storage: each
writes its heartbeat there and holds leases on its VMs' disks, and each records its VM
starts and stops in the ledger. "Power off" is the end of one agent's tasks: its VMs
end with it, its storage heartbeat and its leases go stale. No BMC here: the
neighbours' activity check is the proof (docs/ha.md, "Host HA").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.agent.core import AgentCore
from altostratus.agent.drivers.simulator import SimulatorDriver
from altostratus.agent.host_agent import HostAgent
from altostratus.agent.ledger import Ledger, find_overlaps, read_ledger, record_host_off
from altostratus.agent.link import ManagementLink
from altostratus.agent.shared_storage import SharedStorage
from altostratus.db.models import Zone
from altostratus.runtime import Runtime
from altostratus.services.agents import link as agent_link
from altostratus.settings import Settings
from tests.conftest import Template
from tests.conftest import test_settings as settings_for
from tests.ha.hosts.support import enable_ha, ha_offering, wait_hastate
from tests.support.agent_transport import ServerTransport
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, seed_compute
from tests.support.jobs import run_job

#: A disk lease lives longer than the silence that makes a host suspect plus the activity
#: period that proves it off, so the first HA restart is refused by the dead host's lease
#: and has to be tried again.
LEASE_TTL = 30.0

#: Three agents, the server and its workers share one event loop here: on a loaded CI
#: machine a round from silence to Recovered takes minutes, not the seconds it takes idle.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(database: tuple[str, Template], tmp_path: Path, key_file: Path) -> Settings:
    return settings_for(
        tmp_path / "data",
        database[0],
        key_file,
        # A silence a loaded machine's event loop will not cause by itself, and longer
        # than the activity period: a host suspected after its power-off is proven off by
        # the first investigation (one suspected while alive goes Degraded, then Fenced).
        ha_suspect_after=8.0,
        ha_activity_period=4.0,
        ha_investigation_timeout=3.0,
        ha_recheck_interval=3.0,
        # Tries a second apart: enough to outlast the dead host's lease on a loaded machine.
        ha_restart_attempts=40,
    )


@dataclass
class Rack:
    storage: Path
    ledger: Path
    tasks: dict[str, asyncio.Task[None]]

    async def power_off(self, name: str) -> None:
        task = self.tasks.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        record_host_off(self.ledger, name)


async def _token(runtime: Runtime, zone_uuid: str) -> str:
    async with runtime.db.transaction() as session:
        zone = await session.scalar(select(Zone).where(Zone.uuid == zone_uuid))
        assert zone is not None
        return await agent_link.zone_token(session, runtime.deps.keyring, zone)


@pytest.fixture
async def world(app: Starlette) -> ComputeWorld:
    return await seed_compute(app.state.runtime, hosts=0)


@pytest.fixture
async def rack(app: Starlette, world: ComputeWorld, tmp_path: Path) -> AsyncIterator[Rack]:
    token = await _token(app.state.runtime, world.zone_id)
    storage, ledger = tmp_path / "primary", tmp_path / "primary" / "ledger.jsonl"
    storage.mkdir()
    transport = ServerTransport(app=app)
    async with httpx.AsyncClient(transport=transport) as client:
        tasks = {}
        for name in ("agent1", "agent2", "agent3"):
            core = AgentCore(
                SimulatorDriver(),
                host_name=name,
                storage=SharedStorage(storage, lease_ttl=LEASE_TTL, heartbeat_interval=0.5),
                ledger=Ledger(ledger),
            )
            agent = HostAgent(
                ManagementLink(["http://mgmt.invalid"], client=client, retry_pause=0.1),
                core,
                name=name,
                token=token,
                poll_wait=1.0,
            )
            tasks[name] = asyncio.create_task(agent.run(), name=name)
        rack = Rack(storage, ledger, tasks)
        try:
            yield rack
        finally:
            for task in rack.tasks.values():
                task.cancel()
            await asyncio.gather(*rack.tasks.values(), return_exceptions=True)


async def _hosts_up(api: ApiClient, count: int) -> dict[str, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        hosts = (await api.ok("listHosts")).get("host", [])
        if len(hosts) == count and all(host["state"] == "Up" for host in hosts):
            return {host["name"]: host["id"] for host in hosts}
        assert loop.time() < deadline, f"hosts not Up: {hosts}"
        await asyncio.sleep(0.1)


async def _deploy(api: ApiClient, world: ComputeWorld, offering: str, host_id: str) -> str:
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=world.zone_id,
        serviceofferingid=offering,
        templateid=world.template_id,
        hostid=host_id,
    )
    vm_id: str = result["virtualmachine"]["id"]
    return vm_id


async def _vm(api: ApiClient, vm_id: str) -> dict[str, Any]:
    vm: dict[str, Any] = (await api.ok("listVirtualMachines", id=vm_id))["virtualmachine"][0]
    return vm


async def test_a_dead_hosts_ha_vms_run_again_elsewhere_and_never_twice(
    api: ApiClient, world: ComputeWorld, rack: Rack
) -> None:
    hosts = await _hosts_up(api, 3)
    dead = hosts["agent1"]
    ha_vm = await _deploy(api, world, await ha_offering(api), dead)
    plain_vm = await _deploy(api, world, world.small_offering_id, dead)
    await enable_ha(api, dead)
    await wait_hastate(api, dead, "Available")

    await rack.power_off("agent1")
    await wait_hastate(api, dead, "Recovered", within=200)

    restarted = await _vm(api, ha_vm)
    assert restarted["state"] == "Running"
    assert restarted["hostid"] in (hosts["agent2"], hosts["agent3"])
    assert (await _vm(api, plain_vm))["state"] == "Stopped"
    assert find_overlaps(read_ledger(rack.ledger)) == []

    events = await api.ok("listEvents", pagesize=500, page=1)
    seen = [(event["type"], event["description"]) for event in events["event"]]
    assert any(kind == "VM.HA.RESTART" and ha_vm in text for kind, text in seen), seen
    assert any(kind == "VM.HA.STOPPED" and plain_vm in text for kind, text in seen), seen
    # Proven off before anything restarted: at the first investigation (Checking) or at a
    # later one, if the loaded loop made the host look silent while it was still alive.
    assert any("-> Fenced" in text and "proven off" in text for _, text in seen), seen
    # The dead host's lease outlived the proof: the restart was refused, then tried again.
    assert any(kind == "VM.START" and "Starting again" in text for kind, text in seen), seen
    resources = (await api.ok("listHostHAResources", hostid=dead))["hostha"]
    assert resources[0]["hastate"] == "Recovered"


async def test_an_ha_vm_that_fits_nowhere_stays_stopped_with_an_alert(
    api: ApiClient, world: ComputeWorld, rack: Rack
) -> None:
    """Its host proven off, the other hosts disabled for new VMs: no restart can be
    placed, so the VM ends Stopped and the alert names it."""
    hosts = await _hosts_up(api, 3)
    dead = hosts["agent1"]
    ha_vm = await _deploy(api, world, await ha_offering(api), dead)
    for name in ("agent2", "agent3"):
        await api.ok("updateHost", id=hosts[name], allocationstate="Disable")
    await enable_ha(api, dead)
    await wait_hastate(api, dead, "Available")

    await rack.power_off("agent1")
    await wait_hastate(api, dead, "Recovered", within=200)

    assert (await _vm(api, ha_vm))["state"] == "Stopped"
    alerts = (await api.ok("listAlerts"))["alert"]
    assert any(
        ha_vm in alert["description"] and "could not be restarted" in alert["description"]
        for alert in alerts
    ), alerts
    assert find_overlaps(read_ledger(rack.ledger)) == []
