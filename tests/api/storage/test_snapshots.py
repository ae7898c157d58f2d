"""Snapshots: taking them (through the host when the volume lives on one), listing, deleting."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.api.storage.test_volumes import GIB, UNKNOWN, create_volume, host_commands
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job
from tests.support.world import Identity


async def snapshot(client: ApiClient, volume_id: str, **params: Any) -> dict[str, Any]:
    result = await run_job(client, "createSnapshot", volumeid=volume_id, **params)
    taken: dict[str, Any] = result["snapshot"]
    return taken


async def test_snapshot_of_a_detached_volume(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    volume = await create_volume(alice, compute, "data")
    answer = await alice.ok("createSnapshot", volumeid=volume["id"])
    assert set(answer) == {"jobid", "id"}
    taken = await snapshot(alice, volume["id"], name="before-upgrade")
    assert taken["name"] == "before-upgrade"
    assert taken["state"] == "BackedUp"
    assert taken["volumeid"] == volume["id"]
    assert taken["volumename"] == "data"
    assert taken["volumetype"] == "DATADISK"
    assert taken["snapshottype"] == "MANUAL"
    assert taken["intervaltype"] == "MANUAL"
    assert taken["physicalsize"] == 5 * GIB
    assert taken["zoneid"] == compute.zone_id
    assert taken["account"] == "alice"
    listed = await alice.ok("listSnapshots", volumeid=volume["id"])
    assert listed["count"] == 2
    named = await alice.ok("listSnapshots", name="before-upgrade")
    assert [s["id"] for s in named["snapshot"]] == [taken["id"]]
    default_name = next(s["name"] for s in listed["snapshot"] if s["id"] == answer["id"])
    assert default_name.startswith("detached_data_")
    assert (await alice.ok("listEvents", type="SNAPSHOT.CREATE"))["count"] >= 2


async def test_snapshot_of_a_running_vm_disk_asks_its_host(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    alice = clients.alice
    vm = await deploy(alice, compute)
    roots = await alice.ok("listVolumes", virtualmachineid=vm["id"], type="ROOT")
    root = roots["volume"][0]
    taken = await snapshot(alice, root["id"])
    assert taken["state"] == "BackedUp"
    assert taken["volumetype"] == "ROOT"
    assert taken["name"].startswith(f"{vm['name']}_")
    assert len(await host_commands(app, "CreateSnapshot")) == 1
    await run_job(alice, "deleteSnapshot", id=taken["id"])
    assert len(await host_commands(app, "DeleteSnapshot")) == 1


async def test_visibility_and_errors(clients: Clients, compute: ComputeWorld) -> None:
    alice, bob = clients.alice, clients.bob
    volume = await create_volume(alice, compute)
    taken = await snapshot(alice, volume["id"])
    assert "volumeid" in await bob.fails("createSnapshot", 431, volumeid=volume["id"])
    await bob.fails("createSnapshot", 431, volumeid=UNKNOWN)
    await alice.fails("createSnapshot", 431)
    assert (await bob.ok("listSnapshots")) == {}
    assert (await bob.ok("listSnapshots", id=taken["id"])) == {}
    await bob.fails("deleteSnapshot", 431, id=taken["id"])
    await alice.fails("deleteSnapshot", 431, id=UNKNOWN)
    assert (await clients.d1admin.ok("listSnapshots", listall=True))["count"] == 1


async def test_delete_snapshot(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    volume = await create_volume(alice, compute)
    taken = await snapshot(alice, volume["id"])
    result = await run_job(alice, "deleteSnapshot", id=taken["id"])
    assert result == {"success": "true"}
    assert (await alice.ok("listSnapshots")) == {}
    await alice.fails("deleteSnapshot", 431, id=taken["id"])
    assert (await alice.ok("listEvents", type="SNAPSHOT.DELETE"))["count"] == 1


async def test_volume_from_snapshot(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    volume = await create_volume(
        alice, compute, diskofferingid=compute.custom_disk_offering_id, size=3
    )
    taken = await snapshot(alice, volume["id"])
    restored = (await run_job(alice, "createVolume", name="restored", snapshotid=taken["id"]))[
        "volume"
    ]
    assert restored["size"] == 3 * GIB
    assert restored["state"] == "Ready"
    assert restored["zoneid"] == compute.zone_id
    assert restored["diskofferingid"] == compute.custom_disk_offering_id
    await clients.bob.fails("createVolume", 431, snapshotid=taken["id"])


async def test_snapshot_limit(
    api: ApiClient, clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    await api.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=3, max=1
    )
    volume = await create_volume(clients.alice, compute)
    taken = await snapshot(clients.alice, volume["id"])
    assert "snapshot" in await clients.alice.fails("createSnapshot", 532, volumeid=volume["id"])
    await run_job(clients.alice, "deleteSnapshot", id=taken["id"])
    await snapshot(clients.alice, volume["id"])


async def test_list_snapshots_by_tag_and_keyword(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    volume = await create_volume(alice, compute)
    first = await snapshot(alice, volume["id"], name="nightly-1")
    await snapshot(alice, volume["id"], name="weekly-1")
    await run_job(
        alice,
        "createTags",
        resourceids=first["id"],
        resourcetype="Snapshot",
        **{"tags[0].key": "keep", "tags[0].value": "yes"},
    )
    tagged = await alice.ok("listSnapshots", **{"tags[0].key": "keep"})
    assert [s["name"] for s in tagged["snapshot"]] == ["nightly-1"]
    assert tagged["snapshot"][0]["tags"][0]["key"] == "keep"
    by_keyword = await alice.ok("listSnapshots", keyword="WEEK")
    assert [s["name"] for s in by_keyword["snapshot"]] == ["weekly-1"]
