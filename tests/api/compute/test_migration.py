"""migrateVirtualMachine between simulated hosts: capacity follows the VM, errors leave it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from altostratus.jobs.status import JobStatus
from tests.api.compute.vm_support import allocations, deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job

SMALL = (500, 512)


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def test_the_scheduler_picks_another_host_and_capacity_moves(
    app: Starlette, api: ApiClient, clients: Clients, world: ComputeWorld
) -> None:
    first, second = world.host_ids
    vm = await deploy(clients.alice, world)
    placed = (await api.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]["hostid"]
    other = second if placed == first else first
    result = await run_job(api, "migrateVirtualMachine", virtualmachineid=vm["id"])
    moved = result["virtualmachine"]
    assert (moved["state"], moved["hostid"]) == ("Running", other)
    assert (await allocations(app)) == {placed: (0, 0), other: SMALL}
    events = await api.ok("listEvents", type="VM.MIGRATE", listall=True)
    assert sorted(event["description"].split(":")[0] for event in events["event"]) == sorted(
        [
            f"Migrating from host {name(placed, world)} to host {name(other, world)}",
            f"Migrated to host {name(other, world)}",
        ]
    )
    # And back, to the host named; then it stops as any VM does.
    back = await run_job(api, "migrateVirtualMachine", virtualmachineid=vm["id"], hostid=placed)
    assert back["virtualmachine"]["hostid"] == placed
    await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    assert set((await allocations(app)).values()) == {(0, 0)}


def name(host_uuid: str, world: ComputeWorld) -> str:
    return f"host{world.host_ids.index(host_uuid) + 1}"


async def test_bad_targets_and_states_are_431(
    app: Starlette, api: ApiClient, world: ComputeWorld
) -> None:
    vm = await deploy(api, world, hostid=world.host_ids[0])
    text = await api.fails(
        "migrateVirtualMachine", 431, virtualmachineid=vm["id"], hostid=world.host_ids[0]
    )
    assert "hostid" in text
    text = await api.fails("migrateVirtualMachine", 431, hostid=world.host_ids[1])
    assert "virtualmachineid" in text
    stopped = await deploy(api, world, startvm=False)
    text = await api.fails("migrateVirtualMachine", 431, virtualmachineid=stopped["id"])
    assert "Stopped" in text
    assert (await allocations(app))[world.host_ids[0]] == SMALL


async def test_no_room_on_the_target_is_533(
    app: Starlette, api: ApiClient, world: ComputeWorld
) -> None:
    vm = await deploy(api, world, hostid=world.host_ids[0])
    await deploy(api, world, hostid=world.host_ids[1], serviceofferingid=world.big_offering_id)
    text = await api.fails("migrateVirtualMachine", 533, virtualmachineid=vm["id"])
    assert "Unable to place" in text
    listed = (await api.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert (listed["state"], listed["hostid"]) == ("Running", world.host_ids[0])


async def test_only_root_admins_migrate(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world)
    for caller in (clients.d1admin, clients.alice):
        await caller.fails("migrateVirtualMachine", 531, virtualmachineid=vm["id"])


async def test_a_running_migration_blocks_other_changes(
    api: ApiClient, world: ComputeWorld
) -> None:
    vm = await deploy(api, world, hostid=world.host_ids[0])
    answer = await api.ok("migrateVirtualMachine", virtualmachineid=vm["id"])
    text = await api.fails("stopVirtualMachine", 431, id=vm["id"])
    assert "Migrating" in text
    job = await wait_job(api, answer["jobid"])
    assert job["jobstatus"] == JobStatus.SUCCEEDED, job
    assert job["jobresult"]["virtualmachine"]["hostid"] == world.host_ids[1]
