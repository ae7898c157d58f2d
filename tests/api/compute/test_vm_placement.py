"""Where VMs land: capacity (533), host pinning, host tags, affinity, concurrency, power sync.

The seeded zone has two simulated hosts of 4 x 2000 MHz and 8 GiB each.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Event, Host, ServiceOffering, VirtualMachine
from altostratus.jobs.status import JobStatus
from altostratus.services.compute.vms import reconcile_power_states
from tests.api.compute.vm_support import allocations, deploy, deploy_args, hosts_up, vm_row
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job

HOST_ROOM = (8000, 8192)


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def _host_of(api: ApiClient, vm_id: str) -> str:
    listed = await api.ok("listVirtualMachines", id=vm_id)
    host: str = listed["virtualmachine"][0]["hostid"]
    return host


async def _failed_deploy(client: ApiClient, world: ComputeWorld, **extra: Any) -> dict[str, Any]:
    answer = await client.ok("deployVirtualMachine", **deploy_args(world, **extra))
    job = await wait_job(client, answer["jobid"])
    assert job["jobstatus"] == JobStatus.FAILED, job
    assert job["jobresult"]["errorcode"] == 533
    return {"id": answer["id"], "text": job["jobresult"]["errortext"]}


async def test_no_capacity_is_533_and_the_vm_ends_in_error(
    app: Starlette, api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    first = await deploy(clients.alice, world, serviceofferingid=world.big_offering_id)
    second = await deploy(clients.alice, world, serviceofferingid=world.big_offering_id)
    assert {await _host_of(api, first["id"]), await _host_of(api, second["id"])} == set(
        world.host_ids
    ), "spread: one big VM per host"
    failed = await _failed_deploy(clients.alice, world, serviceofferingid=world.big_offering_id)
    assert "Unable to place" in failed["text"]
    vm = await vm_row(app, failed["id"])
    assert vm.state == "Error"
    assert vm.host_id is None
    assert set((await allocations(app)).values()) == {HOST_ROOM}, "no capacity held by it"
    # An Error VM can be destroyed (its resources go with it).
    destroyed = await run_job(clients.alice, "destroyVirtualMachine", id=failed["id"])
    assert destroyed["virtualmachine"]["state"] == "Destroyed"


async def test_admin_pins_a_host(app: Starlette, api: ApiClient, world: ComputeWorld) -> None:
    target = world.host_ids[1]
    vm = await deploy(api, world, hostid=target)
    assert vm["hostid"] == target
    stopped = await run_job(api, "stopVirtualMachine", id=vm["id"])
    assert stopped["virtualmachine"]["state"] == "Stopped"
    restarted = await run_job(api, "startVirtualMachine", id=vm["id"], hostid=world.host_ids[0])
    assert restarted["virtualmachine"]["hostid"] == world.host_ids[0]
    # The pinned host is full for a big VM: no fallback to the other host.
    failed = await _failed_deploy(
        api, world, serviceofferingid=world.big_offering_id, hostid=world.host_ids[0]
    )
    assert (await vm_row(app, failed["id"])).state == "Error"


async def test_host_tags_are_respected(
    app: Starlette, api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    failed = await _failed_deploy(clients.alice, world, serviceofferingid=world.tagged_offering_id)
    assert "tag" in failed["text"]
    async with app.state.runtime.db.transaction() as session:
        await session.execute(
            update(Host).where(Host.uuid == world.host_ids[1]).values(host_tags="ssd")
        )
    for _ in range(3):
        vm = await deploy(clients.alice, world, serviceofferingid=world.tagged_offering_id)
        assert await _host_of(api, vm["id"]) == world.host_ids[1]


async def _group(client: ApiClient, name: str, kind: str) -> str:
    result = await run_job(client, "createAffinityGroup", name=name, type=kind)
    group_id: str = result["affinitygroup"]["id"]
    return group_id


async def test_affinity_and_anti_affinity(
    api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    together = await _group(clients.alice, "together", "host affinity")
    apart = await _group(clients.alice, "apart", "host anti-affinity")

    friends = [await deploy(clients.alice, world, affinitygroupids=together) for _ in range(3)]
    assert len({await _host_of(api, vm["id"]) for vm in friends}) == 1
    assert friends[0]["affinitygroup"][0]["id"] == together

    loners = [await deploy(clients.alice, world, affinitygroupnames="apart") for _ in range(2)]
    assert {await _host_of(api, vm["id"]) for vm in loners} == set(world.host_ids)
    failed = await _failed_deploy(clients.alice, world, affinitygroupids=apart)
    assert "affinity" in failed["text"]
    members = await clients.alice.ok("listVirtualMachines", affinitygroupid=apart)
    assert members["count"] == 3, "the failed VM is a member too (state Error)"


async def test_concurrent_deploys_never_overcommit(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """Room for M = 8 quarter-host VMs, N = 12 deploys at once: 8 run, 4 fail with 533."""
    async with app.state.runtime.db.transaction() as session:
        quarter = ServiceOffering(
            name="quarter", display_text="Quarter", cpu_number=1, cpu_speed=2000, memory_mb=2048
        )
        session.add(quarter)
        await session.flush()
        offering_id = quarter.uuid
    peak: dict[str, tuple[int, int]] = {}
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            for host, (cpu, memory) in (await allocations(app)).items():
                old = peak.get(host, (0, 0))
                peak[host] = (max(old[0], cpu), max(old[1], memory))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    answers = await asyncio.gather(
        *(
            clients.alice.ok(
                "deployVirtualMachine",
                **deploy_args(world, serviceofferingid=offering_id, name=f"c-{number}"),
            )
            for number in range(12)
        )
    )
    jobs = await asyncio.gather(
        *(wait_job(clients.alice, answer["jobid"], within=60) for answer in answers)
    )
    done.set()
    await watcher
    outcomes = sorted((job["jobstatus"], job["jobresult"].get("errorcode", 0)) for job in jobs)
    assert outcomes == [(JobStatus.SUCCEEDED, 0)] * 8 + [(JobStatus.FAILED, 533)] * 4
    assert set((await allocations(app)).values()) == {HOST_ROOM}
    assert all(cpu <= 8000 and memory <= 8192 for cpu, memory in peak.values()), peak
    running = await clients.alice.ok("listVirtualMachines", state="Running")
    assert running["count"] == 8
    errors = await clients.alice.ok("listVirtualMachines", state="Error")
    assert errors["count"] == 4


async def _reconciled(
    app: Starlette, host_id: int, vm_uuid: str, *reports: dict[str, str]
) -> tuple[VirtualMachine, tuple[int, int], list[str]]:
    """Reconcile ``reports`` in a row, and read the outcome in the same transaction: the
    simulator's own heartbeats reconcile this host too, and must not change it before it
    is read.
    """
    async with app.state.runtime.db.transaction() as session:
        # As a heartbeat does: the host's row first, then its VMs (no deadlock with it).
        await session.execute(select(Host.id).where(Host.id == host_id).with_for_update())
        for reported in reports:
            await reconcile_power_states(session, host_id, reported)
        vm = await session.scalar(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid))
        host = await session.get_one(Host, host_id)
        events = list(
            await session.scalars(
                select(Event.description)
                .where(Event.resource_uuid == vm_uuid, Event.level == "WARN")
                .order_by(Event.id)
            )
        )
        assert vm is not None
        return vm, (host.cpu_allocated_mhz, host.memory_allocated_mb), events


async def test_power_state_reconciliation(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world)
    row = await vm_row(app, vm["id"])
    host_id = row.host_id
    assert host_id is not None
    # The agent reports the VM off twice in a row: it was stopped behind the cloud's back.
    off = {row.instance_name: "PowerOff"}
    stopped, room, events = await _reconciled(app, host_id, vm["id"], off, off)
    assert (stopped.state, stopped.host_id, stopped.power_state) == ("Stopped", None, "PowerOff")
    assert room == (0, 0)
    assert len(events) == 1
    assert "stopped out of band" in events[0]
    # It is reported running again (the simulator still runs it): Running, capacity held.
    running, room, events = await _reconciled(
        app, host_id, vm["id"], {row.instance_name: "PowerOn"}
    )
    assert (running.state, running.host_id, running.power_state) == ("Running", host_id, "PowerOn")
    assert room == (500, 512)
    assert "started out of band" in events[-1]
    # Missing from the report counts as off.
    missing, room, _ = await _reconciled(app, host_id, vm["id"], {}, {})
    assert (missing.state, missing.power_state, room) == ("Stopped", "PowerReportMissing", (0, 0))


async def test_vms_in_a_job_are_left_alone(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world)
    row = await vm_row(app, vm["id"])
    assert row.host_id is not None
    async with app.state.runtime.db.transaction() as session:
        await session.execute(
            update(VirtualMachine).where(VirtualMachine.id == row.id).values(state="Stopping")
        )
    stopping, room, events = await _reconciled(app, row.host_id, vm["id"], {})
    assert (stopping.state, stopping.host_id, room) == ("Stopping", row.host_id, (500, 512))
    assert events == []


async def test_one_report_without_the_vm_does_not_stop_it(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """A report captured before a start completed lacks the VM: only two in a row count.

    The stale report only records the power state; a report with the VM clears it, and
    a start records ``PowerOn`` over a "missing" mark left from before it.
    """
    vm = await deploy(clients.alice, world)
    row = await vm_row(app, vm["id"])
    host_id = row.host_id
    assert host_id is not None
    on = {row.instance_name: "PowerOn"}
    stale, room, events = await _reconciled(app, host_id, vm["id"], {})
    assert (stale.state, stale.host_id, stale.power_state) == (
        "Running",
        host_id,
        "PowerReportMissing",
    )
    assert (room, events) == ((500, 512), [])
    # A report with the VM clears the mark: the next stale one is again only a first.
    again, room, events = await _reconciled(app, host_id, vm["id"], on, {})
    assert (again.state, again.power_state, room, events) == (
        "Running",
        "PowerReportMissing",
        (500, 512),
        [],
    )

    await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    async with app.state.runtime.db.transaction() as session:
        await session.execute(
            update(VirtualMachine)
            .where(VirtualMachine.id == row.id)
            .values(power_state="PowerReportMissing")
        )
    await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    started = await vm_row(app, vm["id"])
    assert (started.state, started.power_state) == ("Running", "PowerOn")
    assert started.host_id is not None
    fresh, room, events = await _reconciled(app, started.host_id, vm["id"], {})
    assert (fresh.state, fresh.power_state) == ("Running", "PowerReportMissing")
    assert room == (500, 512)
    assert events == []


async def test_out_of_band_start_does_not_overwrite_a_concurrent_start(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    """The heartbeat read the VM Stopped, a start request moved it on meanwhile: the
    conditional UPDATE leaves it (and its capacity) to the start."""
    started = await deploy(clients.alice, world)
    row = await vm_row(app, started["id"])
    host_id = row.host_id
    assert host_id is not None
    await run_job(clients.alice, "stopVirtualMachine", id=started["id"])
    async with app.state.runtime.db.transaction() as session:
        await session.execute(select(Host.id).where(Host.id == host_id).with_for_update())
        stale = await session.scalar(
            select(VirtualMachine).where(VirtualMachine.uuid == started["id"])
        )
        assert stale is not None
        assert stale.state == "Stopped"
        # What a concurrent transaction commits after the heartbeat read the row.
        await session.execute(
            update(VirtualMachine)
            .where(VirtualMachine.id == row.id)
            .values(state="Starting")
            .execution_options(synchronize_session=False)
        )
        await reconcile_power_states(session, host_id, {row.instance_name: "PowerOn"})
        host = await session.get_one(Host, host_id)
        room = (host.cpu_allocated_mhz, host.memory_allocated_mb)
    assert (await vm_row(app, started["id"])).state == "Starting"
    assert room == (0, 0), "no capacity held for an out-of-band start that did not happen"
