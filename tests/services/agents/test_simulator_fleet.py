"""The in-process simulator's lease and memory, and the host monitor's transitions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Host, Lease, VirtualMachine
from altostratus.runtime import Runtime
from altostratus.services.agents import simulator_fleet as fleet_module
from altostratus.services.agents.simulator_fleet import SimulatorFleet
from altostratus.services.infrastructure.host_monitor import HostMonitor
from altostratus.timeutil import utcnow
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, wait_hosts_up
from tests.support.jobs import run_job


def _other_server(runtime: Runtime, server_id: str) -> SimulatorFleet:
    return SimulatorFleet(runtime.db, dataclasses.replace(runtime.deps, server_id=server_id))


async def _expire_lease(runtime: Runtime, name: str) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Lease)
            .where(Lease.name == name)
            .values(owner="a dead server", expires=utcnow() - timedelta(seconds=1))
        )


async def test_one_server_drives_the_simulated_hosts(app: Starlette, compute: ComputeWorld) -> None:
    runtime: Runtime = app.state.runtime
    await wait_hosts_up(runtime, compute.host_ids)
    other = _other_server(runtime, "other-server")
    tick = await other.run_once()
    assert not tick.held
    assert str(tick) == "another server holds the simulator lease"
    await _expire_lease(runtime, fleet_module.LEASE)
    tick = await other.run_once()
    assert tick.held
    assert tick.hosts == 2
    assert "heartbeat of 2 simulated hosts" in str(tick)


async def test_a_new_lease_holder_keeps_the_running_vms(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    await wait_hosts_up(runtime, compute.host_ids)
    result = await run_job(
        api,
        "deployVirtualMachine",
        zoneid=compute.zone_id,
        serviceofferingid=compute.small_offering_id,
        templateid=compute.template_id,
        hostid=compute.host_ids[0],
    )
    instance = result["virtualmachine"]["instancename"]
    await _expire_lease(runtime, fleet_module.LEASE)
    other = _other_server(runtime, "successor")
    assert (await other.run_once()).held
    async with runtime.db.transaction(write=False) as session:
        host_id = await session.scalar(select(Host.id).where(Host.uuid == compute.host_ids[0]))
        assert host_id is not None
        state = await session.scalar(
            select(VirtualMachine.state).where(VirtualMachine.instance_name == instance)
        )
    driver = other.driver_of(host_id)
    assert driver is not None
    assert instance in driver.running
    assert state == "Running"  # reconciled with PowerOn: nothing changed


async def test_silent_hosts_go_disconnected_then_down(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    await wait_hosts_up(runtime, compute.host_ids)
    # A host whose (remote) agent went silent: the simulator does not drive agent:// hosts.
    async with runtime.db.transaction() as session:
        host = await session.scalar(select(Host).where(Host.uuid == compute.host_ids[0]))
        assert host is not None
        host.url = "agent://host1"
        host.last_heartbeat = utcnow() - timedelta(seconds=settings.host_disconnect_after + 1)
    # The app's own monitor runs too (same server, same lease): either may move the host.
    monitor = HostMonitor(runtime.db, runtime.deps)
    checked = await monitor.run_once()
    assert checked.down == 0
    assert str(checked) == f"{checked.disconnected} host(s) went Disconnected, 0 Down"
    listed = (await api.ok("listHosts", id=compute.host_ids[0]))["host"][0]
    assert listed["state"] == "Disconnected"
    assert "disconnected" in listed
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Host)
            .where(Host.uuid == compute.host_ids[0])
            .values(last_heartbeat=utcnow() - timedelta(seconds=settings.host_down_after + 1))
        )
    checked = await monitor.run_once()
    assert checked.disconnected == 0
    assert (await api.ok("listHosts", id=compute.host_ids[0]))["host"][0]["state"] == "Down"
    assert (await api.ok("listHosts", id=compute.host_ids[1]))["host"][0]["state"] == "Up"
    events = await api.ok("listEvents", keyword="host1 is")
    types = [event["type"] for event in events["event"]]
    assert "HOST.DISCONNECTED" in types
    assert "HOST.DOWN" in types


async def test_a_host_that_never_heartbeated_goes_disconnected(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    """Registered, then silent: timed from its registration, not left Connecting forever."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    await wait_hosts_up(runtime, compute.host_ids)
    registered = utcnow() - timedelta(seconds=settings.host_disconnect_after + 1)
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Host)
            .where(Host.uuid == compute.host_ids[0])
            .values(
                url="agent://mute",
                state="Connecting",
                state_changed=registered,
                last_heartbeat=None,
            )
        )
    checked = await HostMonitor(runtime.db, runtime.deps).run_once()
    assert (checked.disconnected, checked.down) == (1, 0)
    listed = (await api.ok("listHosts", id=compute.host_ids[0]))["host"][0]
    assert listed["state"] == "Disconnected"
    events = await api.ok("listEvents", type="HOST.DISCONNECTED")
    assert "since it registered" in events["event"][0]["description"]
