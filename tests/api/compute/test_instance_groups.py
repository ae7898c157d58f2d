"""Instance groups: create, list, rename, delete; VMs join them by name and list by groupid."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def create(client: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    group: dict[str, Any] = (await client.ok("createInstanceGroup", name=name, **params))[
        "instancegroup"
    ]
    return group


async def names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listInstanceGroups", **params)
    return [group["name"] for group in listed.get("instancegroup", [])]


async def test_create_list_rename_delete(clients: Clients) -> None:
    group = await create(clients.alice, "web")
    assert (group["name"], group["account"], group["domain"]) == ("web", "alice", "d1")
    assert group["created"].endswith("+0000")
    assert await names(clients.alice) == ["web"]
    assert await names(clients.alice, id=group["id"]) == ["web"]
    renamed = await clients.alice.ok("updateInstanceGroup", id=group["id"], name="frontend")
    assert renamed["instancegroup"]["name"] == "frontend"
    assert await clients.alice.ok("deleteInstanceGroup", id=group["id"]) == {"success": "true"}
    assert await names(clients.alice) == []


async def test_names_are_unique_per_account(clients: Clients) -> None:
    group = await create(clients.alice, "web")
    text = await clients.alice.fails("createInstanceGroup", 431, name="web")
    assert "name" in text
    await create(clients.alice, "db")
    text = await clients.alice.fails("updateInstanceGroup", 431, id=group["id"], name="db")
    assert "name" in text
    await create(clients.bob, "web")  # another account's namespace
    assert await names(clients.alice) == ["web", "db"]


async def test_who_sees_and_changes_a_group(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    group = await create(clients.alice, "web")
    for stranger in (clients.bob, clients.carol):
        assert await names(stranger) == []
        for command in ("updateInstanceGroup", "deleteInstanceGroup"):
            text = await stranger.fails(command, 431, id=group["id"], name="x")
            assert group["id"] in text
    assert await names(clients.d1admin, listall=True) == ["web"]
    assert await names(clients.admin, listall=True) == ["web"]
    alice = identities["alice"]
    made = await create(clients.d1admin, "batch", account="alice", domainid=alice.domain_id)
    assert made["account"] == "alice"
    bob = identities["bob"]
    # An account outside the caller's reach is not revealed.
    await clients.d1admin.fails(
        "createInstanceGroup", 431, name="x", account="bob", domainid=bob.domain_id
    )
    await clients.alice.fails(
        "createInstanceGroup",
        431,
        name="x",
        account="carol",
        domainid=identities["carol"].domain_id,
    )


@pytest.mark.parametrize("command", ["updateInstanceGroup", "deleteInstanceGroup"])
async def test_bad_ids_are_431(clients: Clients, command: str) -> None:
    assert UNKNOWN in await clients.alice.fails(command, 431, id=UNKNOWN)
    assert "id" in await clients.alice.fails(command, 431)
    assert "name" in await clients.alice.fails("createInstanceGroup", 431)


async def test_vms_join_by_name_and_are_listed_by_groupid(
    clients: Clients, world: ComputeWorld
) -> None:
    group = await create(clients.alice, "web")
    vm = await deploy(clients.alice, world, startvm=False, group="web")
    assert (vm["group"], vm["groupid"]) == ("web", group["id"])
    other = await deploy(clients.alice, world, startvm=False, group="batch")
    batch = (await clients.alice.ok("listInstanceGroups", name="batch"))["instancegroup"][0]
    assert other["groupid"] == batch["id"], "a new name makes the group"
    listed = await clients.alice.ok("listVirtualMachines", groupid=group["id"])
    assert [v["id"] for v in listed["virtualmachine"]] == [vm["id"]]
    moved = await clients.alice.ok("updateVirtualMachine", id=other["id"], group="web")
    assert moved["virtualmachine"]["groupid"] == group["id"]
    listed = await clients.alice.ok("listVirtualMachines", groupid=group["id"])
    assert sorted(v["id"] for v in listed["virtualmachine"]) == sorted([vm["id"], other["id"]])
    await clients.alice.ok("updateInstanceGroup", id=group["id"], name="frontend")
    shown = (await clients.alice.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert shown["group"] == "frontend"
    await clients.alice.ok("deleteInstanceGroup", id=group["id"])
    shown = (await clients.alice.ok("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]
    assert "group" not in shown
    assert "groupid" not in shown
