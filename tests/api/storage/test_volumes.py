"""Volumes: create, attach, detach, resize, delete and list, with the rules users rely on."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update
from starlette.applications import Starlette

from altostratus.db.models import Host, HostCommand, Volume
from altostratus.jobs.status import JobStatus
from altostratus.timeutil import utcnow
from tests.api.compute.vm_support import deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import Answer, ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"
GIB = 1024**3


async def create_volume(
    client: ApiClient, compute: ComputeWorld, name: str = "data", **params: Any
) -> dict[str, Any]:
    args = {"zoneid": compute.zone_id, "diskofferingid": compute.disk_offering_id, **params}
    result = await run_job(client, "createVolume", name=name, **args)
    volume: dict[str, Any] = result["volume"]
    return volume


async def job_error(client: ApiClient, command: str, **params: Any) -> dict[str, Any]:
    """Submit ``command`` and return the failed job's ``jobresult``."""
    answer = await client.ok(command, **params)
    body = await wait_job(client, answer["jobid"])
    assert body["jobstatus"] == JobStatus.FAILED, body
    result: dict[str, Any] = body["jobresult"]
    return result


async def host_commands(app: Starlette, kind: str) -> list[HostCommand]:
    async with app.state.runtime.db.transaction(write=False) as session:
        return list(await session.scalars(select(HostCommand).where(HostCommand.kind == kind)))


async def test_create_volume_from_offerings(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    answer = await alice.ok(
        "createVolume", name="data", zoneid=compute.zone_id, diskofferingid=compute.disk_offering_id
    )
    assert set(answer) == {"jobid", "id"}
    body = await wait_job(alice, answer["jobid"])
    assert body["jobinstancetype"] == "Volume"
    volume = body["jobresult"]["volume"]
    assert volume["id"] == answer["id"]
    assert volume["name"] == "data"
    assert volume["type"] == "DATADISK"
    assert volume["size"] == 5 * GIB
    assert volume["state"] == "Allocated"
    assert volume["zoneid"] == compute.zone_id
    assert volume["account"] == "alice"
    assert volume["diskofferingid"] == compute.disk_offering_id
    assert volume["destroyed"] is False
    assert "virtualmachineid" not in volume
    custom = await create_volume(
        alice, compute, "big", diskofferingid=compute.custom_disk_offering_id, size=7
    )
    assert custom["size"] == 7 * GIB
    unnamed = await create_volume(alice, compute, name="")
    assert unnamed["name"].startswith("DATA-")
    listed = await alice.ok("listVolumes")
    assert listed["count"] == 3
    assert (await clients.bob.ok("listVolumes")) == {}
    events = await alice.ok("listEvents", type="VOLUME.CREATE")
    assert events["count"] == 3


async def test_create_volume_rejects_bad_input(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    alice = clients.alice
    fixed, custom = compute.disk_offering_id, compute.custom_disk_offering_id
    assert "size" in await alice.fails(
        "createVolume", 431, zoneid=compute.zone_id, diskofferingid=custom
    )
    assert "size" in await alice.fails(
        "createVolume", 431, zoneid=compute.zone_id, diskofferingid=fixed, size=3
    )
    assert "zoneid" in await alice.fails("createVolume", 431, diskofferingid=fixed)
    assert "diskofferingid" in await alice.fails("createVolume", 431, zoneid=compute.zone_id)
    assert "zoneid" in await alice.fails("createVolume", 431, zoneid=UNKNOWN, diskofferingid=fixed)
    assert "diskofferingid" in await alice.fails(
        "createVolume", 431, zoneid=compute.zone_id, diskofferingid=UNKNOWN
    )
    assert "size" in await alice.fails(
        "createVolume", 431, zoneid=compute.zone_id, diskofferingid=custom, size=0
    )
    await api.ok("deleteDiskOffering", id=fixed)
    assert "diskofferingid" in await alice.fails(
        "createVolume", 431, zoneid=compute.zone_id, diskofferingid=fixed
    )
    assert (await alice.ok("listAsyncJobs")) == {}


async def test_admins_create_volumes_for_accounts_they_manage(
    clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    volume = await create_volume(clients.d1admin, compute, account="alice", domainid=d1)
    assert volume["account"] == "alice"
    assert (await clients.alice.ok("listVolumes"))["count"] == 1
    bob_domain = identities["bob"].domain_id
    await clients.d1admin.fails(
        "createVolume",
        431,
        zoneid=compute.zone_id,
        diskofferingid=compute.disk_offering_id,
        account="bob",
        domainid=bob_domain,
    )
    await clients.alice.fails(
        "createVolume",
        431,
        zoneid=compute.zone_id,
        diskofferingid=compute.disk_offering_id,
        account="carol",
        domainid=identities["carol"].domain_id,
    )


async def test_volume_limits(
    api: ApiClient, clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    await api.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=2, max=1
    )
    await create_volume(clients.alice, compute)
    text = await clients.alice.fails(
        "createVolume", 532, zoneid=compute.zone_id, diskofferingid=compute.disk_offering_id
    )
    assert "volume" in text
    await api.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=2, max=-1
    )
    await api.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=10, max=8
    )
    await clients.alice.fails(
        "createVolume",
        532,
        zoneid=compute.zone_id,
        diskofferingid=compute.custom_disk_offering_id,
        size=4,
    )
    small = await create_volume(
        clients.alice, compute, diskofferingid=compute.custom_disk_offering_id, size=3
    )
    await clients.alice.fails("resizeVolume", 532, id=small["id"], size=4)


async def test_attach_and_detach_on_a_stopped_vm(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    alice = clients.alice
    vm = await deploy(alice, compute, startvm=False)
    assert vm["state"] == "Stopped"
    first = await create_volume(alice, compute, "first")
    second = await create_volume(alice, compute, "second")

    attached = (await run_job(alice, "attachVolume", id=first["id"], virtualmachineid=vm["id"]))[
        "volume"
    ]
    assert attached["virtualmachineid"] == vm["id"]
    assert attached["vmname"] == vm["name"]
    assert attached["vmstate"] == "Stopped"
    assert attached["deviceid"] == 1
    assert "attached" in attached
    text = await alice.fails(
        "attachVolume", 431, id=second["id"], virtualmachineid=vm["id"], deviceid=1
    )
    assert "deviceid" in text
    text = await alice.fails(
        "attachVolume", 431, id=second["id"], virtualmachineid=vm["id"], deviceid=3
    )
    assert "deviceid" in text
    await alice.fails("attachVolume", 431, id=first["id"], virtualmachineid=vm["id"])
    again = await run_job(alice, "attachVolume", id=second["id"], virtualmachineid=vm["id"])
    assert again["volume"]["deviceid"] == 2
    on_vm = await alice.ok("listVolumes", virtualmachineid=vm["id"], type="DATADISK")
    assert sorted(v["name"] for v in on_vm["volume"]) == ["first", "second"]

    assert "detach" in await alice.fails("deleteVolume", 536, id=first["id"])
    detached = (await run_job(alice, "detachVolume", id=first["id"]))["volume"]
    assert "virtualmachineid" not in detached
    assert "deviceid" not in detached
    await alice.fails("detachVolume", 431, id=first["id"])
    assert (await alice.ok("deleteVolume", id=first["id"])) == {"success": "true"}
    await alice.fails("deleteVolume", 431, id=first["id"])
    assert (await alice.ok("listVolumes", id=first["id"])) == {}
    # No host was asked: the VM is not running.
    assert await host_commands(app, "AttachVolume") == []
    events = await alice.ok("listEvents", type="VOLUME.ATTACH")
    assert events["count"] == 2


async def test_root_volume_rules(app: Starlette, clients: Clients, compute: ComputeWorld) -> None:
    await hosts_up(app, compute)
    alice = clients.alice
    vm = await deploy(alice, compute, startvm=False)
    roots = await alice.ok("listVolumes", virtualmachineid=vm["id"], type="ROOT")
    assert roots["count"] == 1
    root = roots["volume"][0]
    assert root["deviceid"] == 0
    assert "ROOT" in await alice.fails("detachVolume", 431, id=root["id"])
    assert "ROOT" in await alice.fails("deleteVolume", 431, id=root["id"])
    other = await deploy(alice, compute, startvm=False)
    await alice.fails("attachVolume", 431, id=root["id"], virtualmachineid=other["id"])


async def test_attach_to_a_running_vm_goes_to_its_host(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    alice = clients.alice
    vm = await deploy(alice, compute)
    assert vm["state"] == "Running"
    volume = await create_volume(alice, compute)
    attached = (await run_job(alice, "attachVolume", id=volume["id"], virtualmachineid=vm["id"]))[
        "volume"
    ]
    assert attached["state"] == "Ready"
    assert attached["vmstate"] == "Running"
    sent = await host_commands(app, "AttachVolume")
    assert len(sent) == 1
    assert volume["id"] in sent[0].payload
    await run_job(alice, "detachVolume", id=volume["id"])
    assert len(await host_commands(app, "DetachVolume")) == 1
    resized = (
        await run_job(
            alice,
            "resizeVolume",
            id=volume["id"],
            diskofferingid=compute.custom_disk_offering_id,
            size=9,
        )
    )["volume"]
    assert resized["size"] == 9 * GIB
    assert len(await host_commands(app, "ResizeVolume")) == 1


async def test_attach_respects_accounts(
    app: Starlette, api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    vm = await deploy(clients.alice, compute, startvm=False)
    bobs = await create_volume(clients.bob, compute)
    admins = await create_volume(api, compute)
    await clients.bob.fails("attachVolume", 431, id=bobs["id"], virtualmachineid=vm["id"])
    await clients.alice.fails("attachVolume", 431, id=bobs["id"], virtualmachineid=vm["id"])
    text = await api.fails("attachVolume", 431, id=admins["id"], virtualmachineid=vm["id"])
    assert "accounts" in text
    await clients.bob.fails("deleteVolume", 431, id=admins["id"])
    await clients.bob.fails("detachVolume", 431, id=UNKNOWN)
    await clients.alice.fails("attachVolume", 431, id=UNKNOWN, virtualmachineid=vm["id"])


async def test_resize_volume(clients: Clients, compute: ComputeWorld) -> None:
    alice = clients.alice
    volume = await create_volume(
        alice, compute, diskofferingid=compute.custom_disk_offering_id, size=4
    )
    grown = (await run_job(alice, "resizeVolume", id=volume["id"], size=6))["volume"]
    assert grown["size"] == 6 * GIB
    assert "shrinkok" in await alice.fails("resizeVolume", 431, id=volume["id"], size=2)
    shrunk = (await run_job(alice, "resizeVolume", id=volume["id"], size=2, shrinkok=True))[
        "volume"
    ]
    assert shrunk["size"] == 2 * GIB
    fixed = await create_volume(alice, compute, "fixed")
    assert "diskofferingid" in await alice.fails("resizeVolume", 431, id=fixed["id"], size=9)
    moved = await run_job(
        alice,
        "resizeVolume",
        id=fixed["id"],
        diskofferingid=compute.custom_disk_offering_id,
        size=9,
    )
    assert moved["volume"]["diskofferingid"] == compute.custom_disk_offering_id
    assert (await alice.ok("listEvents", type="VOLUME.RESIZE"))["count"] == 3


async def test_list_volumes_filters(
    api: ApiClient, clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice, carol = clients.alice, clients.carol
    first = await create_volume(alice, compute, "alpha")
    await create_volume(alice, compute, "beta")
    await create_volume(carol, compute, "gamma")
    await run_job(
        alice,
        "createTags",
        resourceids=first["id"],
        resourcetype="Volume",
        **{"tags[0].key": "tier", "tags[0].value": "gold"},
    )
    assert [v["name"] for v in (await alice.ok("listVolumes", keyword="ALP"))["volume"]] == [
        "alpha"
    ]
    tagged = await alice.ok("listVolumes", **{"tags[0].key": "tier", "tags[0].value": "gold"})
    assert [v["name"] for v in tagged["volume"]] == ["alpha"]
    assert tagged["volume"][0]["tags"][0]["value"] == "gold"
    assert (await alice.ok("listVolumes", name="beta"))["count"] == 1
    assert (await alice.ok("listVolumes", zoneid=UNKNOWN)) == {}
    # Domain admins list their subtree with listall; by id without it.
    assert (await clients.d1admin.ok("listVolumes")) == {}
    assert (await clients.d1admin.ok("listVolumes", listall=True))["count"] == 3
    assert (await clients.d1admin.ok("listVolumes", id=first["id"]))["count"] == 1
    assert (await clients.bob.ok("listVolumes", id=first["id"])) == {}
    by_account = await api.ok(
        "listVolumes", account="carol", domainid=identities["carol"].domain_id
    )
    assert [v["name"] for v in by_account["volume"]] == ["gamma"]
    page = await api.ok("listVolumes", listall=True, page=1, pagesize=2)
    assert page["count"] == 3
    assert len(page["volume"]) == 2


async def test_concurrent_attachments_accept_one(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    """One volume into two VMs, or two volumes into one slot, at the same moment: one wins."""
    await hosts_up(app, compute)
    alice = clients.alice
    first_vm = await deploy(alice, compute, startvm=False)
    second_vm = await deploy(alice, compute, startvm=False)
    shared = await create_volume(alice, compute, "shared")
    answers: list[Answer] = list(
        await asyncio.gather(
            alice.call("attachVolume", id=shared["id"], virtualmachineid=first_vm["id"]),
            alice.call("attachVolume", id=shared["id"], virtualmachineid=second_vm["id"]),
        )
    )
    assert sorted(answer.status for answer in answers) == [200, 431]
    accepted = [answer for answer in answers if answer.status == 200]
    left = await create_volume(alice, compute, "left")
    right = await create_volume(alice, compute, "right")
    answers = await asyncio.gather(
        *(
            alice.call("attachVolume", id=volume["id"], virtualmachineid=first_vm["id"], deviceid=2)
            for volume in (left, right)
        )
    )
    assert sorted(answer.status for answer in answers) == [200, 431]
    for answer in [*accepted, *answers]:
        if answer.status == 200:
            await wait_job(alice, answer.body["jobid"])
    async with app.state.runtime.db.transaction(write=False) as session:
        attached = list(
            await session.execute(
                select(Volume.name, Volume.vm_id, Volume.device_id).where(
                    Volume.type == "DATADISK", Volume.vm_id.is_not(None)
                )
            )
        )
    assert len(attached) == 2  # "shared" once, and one of "left"/"right" in slot 2
    assert len({(row.vm_id, row.device_id) for row in attached}) == 2


async def test_a_volume_on_a_removed_host_needs_nothing_from_a_host(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    """No command is queued for a removed host: it would never be delivered."""
    runtime = app.state.runtime
    alice = clients.alice
    volume = await create_volume(alice, compute)
    async with runtime.db.transaction() as session:
        host = await session.scalar(select(Host).where(Host.uuid == compute.host_ids[0]))
        assert host is not None
        host.removed = utcnow()
        await session.execute(
            update(Volume).where(Volume.uuid == volume["id"]).values(host_id=host.id, state="Ready")
        )
    taken = (await run_job(alice, "createSnapshot", volumeid=volume["id"]))["snapshot"]
    assert taken["state"] == "BackedUp"
    assert await host_commands(app, "CreateSnapshot") == []
    assert (await alice.ok("deleteVolume", id=volume["id"])) == {"success": "true"}
    assert await host_commands(app, "DeleteVolume") == []


async def test_list_volumes_scopes_as_cloudstack(
    clients: Clients, identities: dict[str, Identity], compute: ComputeWorld
) -> None:
    """Own volumes by default, for admins too; ``listall``, ``domainid`` and
    ``isrecursive`` widen the listing; an unknown ``id`` form matches nothing."""
    for who in ("alice", "carol", "bob"):
        await create_volume(getattr(clients, who), compute, f"{who}-disk")
    await create_volume(clients.d1admin, compute, "admin-disk")

    async def names(client: ApiClient, **params: Any) -> list[str]:
        listed = await client.ok("listVolumes", **params)
        return sorted(v["name"] for v in listed.get("volume", []))

    d1 = identities["alice"].domain_id
    assert await names(clients.admin) == []
    assert await names(clients.d1admin) == ["admin-disk"]
    assert await names(clients.d1admin, isrecursive=True) == ["admin-disk"]
    assert await names(clients.d1admin, listall=True) == ["admin-disk", "alice-disk", "carol-disk"]
    assert await names(clients.admin, domainid=d1) == ["admin-disk", "alice-disk"]
    assert await names(clients.admin, domainid=d1, isrecursive=True) == [
        "admin-disk",
        "alice-disk",
        "carol-disk",
    ]
    assert await names(clients.alice, listall=True) == ["alice-disk"]
    assert await names(clients.admin, listall=True, id="-1") == []
