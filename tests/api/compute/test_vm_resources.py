"""changeServiceForVirtualMachine and scaleVirtualMachine: a VM's offering, and its capacity."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from altostratus.jobs.status import JobStatus
from tests.api.compute.vm_support import allocations, deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"
#: What the small and the big offering reserve (CPU MHz, memory MB).
SMALL, BIG = (500, 512), (8000, 8192)


@pytest.fixture
async def world(app: Starlette, api: ApiClient, compute: ComputeWorld) -> ComputeWorld:
    """Hosts up, in a zone that lets running VMs scale (CloudStack's default is not to)."""
    await _zone_scaling(api, compute.zone_id, "true")
    return await hosts_up(app, compute)


async def _zone_scaling(api: ApiClient, zone_id: str, value: str) -> None:
    await api.ok("updateConfiguration", name="enable.dynamic.scale.vm", value=value, zoneid=zone_id)


def sized(vm: dict[str, Any]) -> tuple[str, int, int, int]:
    return (vm["serviceofferingname"], vm["cpunumber"], vm["cpuspeed"], vm["memory"])


async def test_a_stopped_vm_changes_offering_and_starts_with_it(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    answer = await clients.alice.ok(
        "changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    changed = answer["virtualmachine"]
    assert changed["serviceofferingid"] == world.big_offering_id
    assert sized(changed) == ("big", 4, 2000, 8192)
    assert set((await allocations(app)).values()) == {(0, 0)}, "reserved at the start only"
    started = await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    assert sized(started["virtualmachine"]) == ("big", 4, 2000, 8192)
    assert sorted((await allocations(app)).values()) == [(0, 0), BIG]
    events = await clients.alice.ok("listEvents", type="VM.UPGRADE")
    assert [event["description"] for event in events["event"]] == [
        f"Changed to offering big: VM {vm['name']} ({vm['id']})"
    ]


async def test_a_running_vm_cannot_change_offering(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world)
    text = await clients.alice.fails(
        "changeServiceForVirtualMachine", 431, id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert "Running" in text
    listed = (await clients.alice.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert sized(listed) == ("small", 1, 500, 512)


@pytest.mark.parametrize("command", ["changeServiceForVirtualMachine", "scaleVirtualMachine"])
async def test_bad_offerings_are_431_naming_it(
    clients: Clients, world: ComputeWorld, command: str
) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    for offering in (world.small_offering_id, UNKNOWN, "nope"):
        text = await clients.alice.fails(command, 431, id=vm["id"], serviceofferingid=offering)
        assert "serviceofferingid" in text
    text = await clients.alice.fails(command, 431, id=vm["id"])
    assert "serviceofferingid" in text
    text = await clients.alice.fails(
        command,
        431,
        id=vm["id"],
        serviceofferingid=world.big_offering_id,
        **{"details[0].cpuNumber": "2"},
    )
    assert "details" in text


async def test_limits_and_permissions(
    clients: Clients, world: ComputeWorld, api: ApiClient
) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    for stranger in (clients.bob, clients.carol):
        await stranger.fails(
            "changeServiceForVirtualMachine",
            431,
            id=vm["id"],
            serviceofferingid=world.big_offering_id,
        )
    alice = (await api.ok("listAccounts", name="alice", listall=True))["account"][0]
    await api.ok(
        "updateResourceLimit", account="alice", domainid=alice["domainid"], resourcetype=8, max=2
    )
    text = await clients.alice.fails(
        "changeServiceForVirtualMachine", 532, id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert "cpu" in text.lower()
    answer = await clients.d1admin.ok(
        "changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=world.tagged_offering_id
    )
    assert answer["virtualmachine"]["serviceofferingname"] == "tagged"


async def test_scaling_a_stopped_vm_changes_its_offering(
    clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    result = await run_job(
        clients.alice, "scaleVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert sized(result["virtualmachine"]) == ("big", 4, 2000, 8192)


async def test_a_running_vm_scales_only_if_dynamically_scalable(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    fixed = await deploy(clients.alice, world)
    assert fixed["isdynamicallyscalable"] is False
    text = await clients.alice.fails(
        "scaleVirtualMachine", 431, id=fixed["id"], serviceofferingid=world.big_offering_id
    )
    assert "dynamically scalable" in text
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]


async def test_a_dynamically_scalable_vm_scales_up_while_it_runs(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, dynamicscalingenabled=True)
    assert vm["isdynamicallyscalable"] is True
    result = await run_job(
        clients.alice, "scaleVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    scaled = result["virtualmachine"]
    assert (scaled["state"], *sized(scaled)) == ("Running", "big", 4, 2000, 8192)
    assert sorted((await allocations(app)).values()) == [(0, 0), BIG]
    text = await clients.alice.fails(
        "scaleVirtualMachine", 431, id=vm["id"], serviceofferingid=world.small_offering_id
    )
    assert "only scaling up" in text
    await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    assert set((await allocations(app)).values()) == {(0, 0)}


async def test_a_running_vm_scales_only_where_its_zone_allows_it(
    app: Starlette, clients: Clients, api: ApiClient, world: ComputeWorld
) -> None:
    """enable.dynamic.scale.vm: false by default; the zone's value wins over the global one."""
    (listed,) = (await api.ok("listConfigurations", name="enable.dynamic.scale.vm"))[
        "configuration"
    ]
    assert listed["value"] == "false"
    vm = await deploy(clients.alice, world, dynamicscalingenabled=True)
    await _zone_scaling(api, world.zone_id, "false")
    await api.ok("updateConfiguration", name="enable.dynamic.scale.vm", value="true")
    text = await clients.alice.fails(
        "scaleVirtualMachine", 431, id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert "enable.dynamic.scale.vm" in text
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]
    await _zone_scaling(api, world.zone_id, "true")
    result = await run_job(
        clients.alice, "scaleVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert sized(result["virtualmachine"]) == ("big", 4, 2000, 8192)


async def test_an_offering_without_dynamic_scaling_is_refused_to_running_vms(
    app: Starlette, clients: Clients, api: ApiClient, world: ComputeWorld
) -> None:
    created = await api.ok(
        "createServiceOffering",
        name="fixed-big",
        displaytext="Fixed big",
        cpunumber=4,
        cpuspeed=2000,
        memory=8192,
        dynamicscalingenabled=False,
    )
    fixed = created["serviceoffering"]
    assert fixed["dynamicscalingenabled"] is False
    vm = await deploy(clients.alice, world, dynamicscalingenabled=True)
    text = await clients.alice.fails(
        "scaleVirtualMachine", 431, id=vm["id"], serviceofferingid=fixed["id"]
    )
    assert "serviceofferingid" in text
    assert "dynamicscalingenabled" in text
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]


async def test_scaling_needs_room_on_the_vms_host(
    app: Starlette, clients: Clients, api: ApiClient, world: ComputeWorld
) -> None:
    host = world.host_ids[0]
    vm = await deploy(api, world, dynamicscalingenabled=True, hostid=host)
    await deploy(api, world, hostid=host)
    text = await api.fails(
        "scaleVirtualMachine", 533, id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert "room" in text
    assert (await allocations(app))[host] == (1000, 1024)


async def test_a_host_that_refuses_leaves_the_old_size(
    app: Starlette, clients: Clients, world: ComputeWorld
) -> None:
    # Started without room to grow; made scalable while running (effective next start).
    vm = await deploy(clients.alice, world)
    await clients.alice.ok("updateVirtualMachine", id=vm["id"], isdynamicallyscalable=True)
    answer = await clients.alice.ok(
        "scaleVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    job = await wait_job(clients.alice, answer["jobid"])
    assert job["jobstatus"] == JobStatus.FAILED
    assert "may grow to" in job["jobresult"]["errortext"]
    listed = (await clients.alice.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert sized(listed) == ("small", 1, 500, 512)
    assert sorted((await allocations(app)).values()) == [(0, 0), SMALL]
    # Started again, it has the room: now it scales.
    await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    await run_job(clients.alice, "startVirtualMachine", id=vm["id"])
    result = await run_job(
        clients.alice, "scaleVirtualMachine", id=vm["id"], serviceofferingid=world.big_offering_id
    )
    assert sized(result["virtualmachine"]) == ("big", 4, 2000, 8192)
