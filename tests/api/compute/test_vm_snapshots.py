"""VM snapshots on simulated hosts: create, list, revert, delete, and what each refuses."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def snapshot(client: ApiClient, vm: dict[str, Any], **params: Any) -> dict[str, Any]:
    result = await run_job(client, "createVMSnapshot", virtualmachineid=vm["id"], **params)
    taken: dict[str, Any] = result["vmsnapshot"]
    return taken


async def listed(client: ApiClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.ok("listVMSnapshot", **params)).get(
        "vmSnapshot", []
    )
    return found


async def test_create_list_revert_delete(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world)
    first = await snapshot(
        clients.alice, vm, name="before", description="pre-upgrade", snapshotmemory=True
    )
    assert (first["displayname"], first["description"], first["state"]) == (
        "before",
        "pre-upgrade",
        "Ready",
    )
    assert (first["type"], first["current"], first["virtualmachineid"]) == (
        "DiskAndMemory",
        True,
        vm["id"],
    )
    seen = (await clients.admin.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert first["name"].startswith(f"{seen['instancename']}_VS_")
    second = await snapshot(clients.alice, vm, snapshotmemory=True)
    assert (second["parent"], second["current"]) == (first["id"], True)
    shown = {s["id"]: s["current"] for s in await listed(clients.alice, virtualmachineid=vm["id"])}
    assert shown == {first["id"]: False, second["id"]: True}
    reverted = await run_job(clients.alice, "revertToVMSnapshot", vmsnapshotid=first["id"])
    assert reverted["virtualmachine"]["state"] == "Running"
    assert [s["id"] for s in await listed(clients.alice) if s["current"]] == [first["id"]]
    assert await run_job(clients.alice, "deleteVMSnapshot", vmsnapshotid=second["id"]) == {
        "success": "true"
    }
    assert [s["id"] for s in await listed(clients.alice)] == [first["id"]]


async def test_disk_snapshots_revert_a_stopped_vm(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world)
    taken = await snapshot(clients.alice, vm)
    assert taken["type"] == "Disk"
    text = await clients.alice.fails("revertToVMSnapshot", 431, vmsnapshotid=taken["id"])
    assert "Running" in text
    await run_job(clients.alice, "stopVirtualMachine", id=vm["id"])
    reverted = await run_job(clients.alice, "revertToVMSnapshot", vmsnapshotid=taken["id"])
    assert reverted["virtualmachine"]["state"] == "Stopped"
    text = await clients.alice.fails(
        "createVMSnapshot", 431, virtualmachineid=vm["id"], snapshotmemory=True
    )
    assert "snapshotmemory" in text


async def test_refusals(clients: Clients, world: ComputeWorld) -> None:
    never_ran = await deploy(clients.alice, world, startvm=False)
    text = await clients.alice.fails("createVMSnapshot", 431, virtualmachineid=never_ran["id"])
    assert "never run" in text
    assert UNKNOWN in await clients.alice.fails("createVMSnapshot", 431, virtualmachineid=UNKNOWN)
    for command in ("revertToVMSnapshot", "deleteVMSnapshot"):
        assert UNKNOWN in await clients.alice.fails(command, 431, vmsnapshotid=UNKNOWN)
        assert "vmsnapshotid" in await clients.alice.fails(command, 431)


async def test_who_sees_and_acts(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world)
    taken = await snapshot(clients.alice, vm)
    for stranger in (clients.bob, clients.carol):
        assert await listed(stranger, listall=True) == []
        await stranger.fails("createVMSnapshot", 431, virtualmachineid=vm["id"])
        await stranger.fails("deleteVMSnapshot", 431, vmsnapshotid=taken["id"])
    assert [s["id"] for s in await listed(clients.d1admin, listall=True)] == [taken["id"]]
    await run_job(clients.d1admin, "deleteVMSnapshot", vmsnapshotid=taken["id"])
    assert await listed(clients.admin, listall=True) == []


async def test_expunging_the_vm_removes_its_snapshots(api: ApiClient, world: ComputeWorld) -> None:
    vm = await deploy(api, world)
    await snapshot(api, vm)
    await run_job(api, "destroyVirtualMachine", id=vm["id"], expunge=True)
    assert await listed(api, listall=True) == []
