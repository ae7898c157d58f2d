"""destroyVolume and recoverVolume: a detached data disk kept in Destroy until expunged."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.api.storage.test_volumes import UNKNOWN, create_volume
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job
from tests.support.world import Identity


async def state_of(client: ApiClient, uuid: str) -> str | None:
    listed = await client.ok("listVolumes", id=uuid)
    found = listed.get("volume", [])
    return found[0]["state"] if found else None


async def test_destroy_then_recover(clients: Clients, compute: ComputeWorld) -> None:
    volume = await create_volume(clients.alice, compute)
    result = await run_job(clients.alice, "destroyVolume", id=volume["id"])
    assert (result["volume"]["id"], result["volume"]["state"]) == (volume["id"], "Destroy")
    assert await state_of(clients.alice, volume["id"]) == "Destroy"
    text = await clients.alice.fails("destroyVolume", 431, id=volume["id"])
    assert "already destroyed" in text
    recovered = await clients.alice.ok("recoverVolume", id=volume["id"])
    assert recovered["volume"]["state"] == "Allocated", "never used: no storage yet"
    text = await clients.alice.fails("recoverVolume", 431, id=volume["id"])
    assert "not destroyed" in text
    events = await clients.alice.ok("listEvents", type="VOLUME.DESTROY")
    assert events["count"] == 1
    assert (await clients.alice.ok("listEvents", type="VOLUME.RECOVER"))["count"] == 1


async def test_expunge_deletes_it_also_once_destroyed(
    clients: Clients, compute: ComputeWorld
) -> None:
    first = await create_volume(clients.alice, compute, "one")
    await run_job(clients.alice, "destroyVolume", id=first["id"], expunge=True)
    assert await state_of(clients.alice, first["id"]) is None
    second = await create_volume(clients.alice, compute, "two")
    await run_job(clients.alice, "destroyVolume", id=second["id"])
    await run_job(clients.alice, "destroyVolume", id=second["id"], expunge=True)
    assert await state_of(clients.alice, second["id"]) is None
    assert "Unable to find" in await clients.alice.fails("recoverVolume", 431, id=second["id"])


async def test_a_destroyed_disk_is_not_attached_or_resized(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    world = await hosts_up(app, compute)
    vm = await deploy(clients.alice, world, startvm=False)
    volume = await create_volume(clients.alice, world)
    await run_job(clients.alice, "destroyVolume", id=volume["id"])
    text = await clients.alice.fails(
        "attachVolume", 431, id=volume["id"], virtualmachineid=vm["id"]
    )
    assert "recover it first" in text
    text = await clients.alice.fails(
        "resizeVolume", 431, id=volume["id"], diskofferingid=world.custom_disk_offering_id, size=9
    )
    assert "recover it first" in text


async def test_root_and_attached_disks_are_refused(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    world = await hosts_up(app, compute)
    vm = await deploy(clients.alice, world, diskofferingid=world.disk_offering_id)
    disks = {v["type"]: v["id"] for v in (await clients.alice.ok("listVolumes"))["volume"]}
    assert "ROOT" in await clients.alice.fails("destroyVolume", 431, id=disks["ROOT"])
    assert "detach" in await clients.alice.fails("destroyVolume", 536, id=disks["DATADISK"])
    assert await state_of(clients.alice, disks["DATADISK"]) == "Ready"
    assert vm["state"] == "Running"


async def test_recover_honours_the_volume_limit(
    clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    volume = await create_volume(clients.alice, compute)
    await run_job(clients.alice, "destroyVolume", id=volume["id"])
    await create_volume(clients.alice, compute, "new")
    alice = identities["alice"]
    await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=2, max=1
    )
    assert "volume" in await clients.alice.fails("recoverVolume", 532, id=volume["id"])
    assert await state_of(clients.alice, volume["id"]) == "Destroy"


@pytest.mark.parametrize("command", ["destroyVolume", "recoverVolume"])
async def test_strangers_and_bad_ids_are_431(
    clients: Clients, compute: ComputeWorld, command: str
) -> None:
    volume = await create_volume(clients.alice, compute)
    params: dict[str, Any] = {"id": volume["id"]}
    for stranger in (clients.bob, clients.carol):
        assert volume["id"] in await stranger.fails(command, 431, **params)
    assert UNKNOWN in await clients.alice.fails(command, 431, id=UNKNOWN)
    assert "id" in await clients.alice.fails(command, 431)
    if command == "destroyVolume":
        result = await run_job(clients.d1admin, command, **params)
        assert result["volume"]["state"] == "Destroy"
