"""Affinity groups: the commands, and the services deploy uses to put VMs in groups.

VMs are written through the model here (``insert_vm``), so these tests do not depend on
``deployVirtualMachine``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.models import (
    User,
    VirtualMachine,
)
from altostratus.errors import InvalidParameter
from altostratus.services.compute import affinity
from altostratus.settings import Settings
from altostratus.timeutil import utcnow
from tests import conftest
from tests.api.infrastructure.test_zones import UNKNOWN
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, InsertedVm, insert_vm
from tests.support.jobs import run_job
from tests.support.world import Identity


@pytest.fixture
def settings(database: tuple[str, Any], tmp_path: Path, key_file: Path) -> Settings:
    """No job executor or simulator: these commands finish inside their request."""
    return conftest.test_settings(tmp_path / "data", database[0], key_file, compute_workers=False)


async def caller_context(app: Starlette, who: Identity, session: Any) -> ServiceContext:
    user = await session.scalar(select(User).where(User.uuid == who.user_id))
    return ServiceContext(session, Caller.of(user, user.account), app.state.runtime.deps)


async def create_group(
    client: ApiClient, name: str, kind: str = "host anti-affinity", **params: Any
) -> dict[str, Any]:
    result = await run_job(client, "createAffinityGroup", name=name, type=kind, **params)
    group: dict[str, Any] = result["affinitygroup"]
    return group


async def group_names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listAffinityGroups", **params)
    return sorted(group["name"] for group in listed.get("affinitygroup", []))


async def join(app: Starlette, who: Identity, vm: InsertedVm, *names: str) -> None:
    """Put ``vm`` in its owner's groups ``names``, as deployVirtualMachine does."""
    async with app.state.runtime.db.transaction() as session:
        ctx = await caller_context(app, who, session)
        groups = await affinity.groups_for_deploy(ctx, ctx.caller.account_id, [], list(names))
        await affinity.add_members(session, groups, vm.id)


async def test_create_answers_the_group_through_its_job(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    answer = await clients.alice.ok(
        "createAffinityGroup", name="web", type="host anti-affinity", description="spread web"
    )
    assert set(answer) == {"jobid", "id"}
    job = await clients.alice.ok("queryAsyncJobResult", jobid=answer["jobid"])
    assert job["jobstatus"] == 1
    group = job["jobresult"]["affinitygroup"]
    assert group == {
        "id": answer["id"],
        "name": "web",
        "type": "host anti-affinity",
        "description": "spread web",
        "account": "alice",
        "domainid": alice.domain_id,
        "domain": "d1",
        "virtualmachineIds": [],
    }
    listed = await clients.alice.ok("listAffinityGroups")
    assert listed == {"count": 1, "affinitygroup": [group]}
    events = await clients.alice.ok("listEvents", type="AG.CREATE")
    assert events["event"][0]["resourceid"] == answer["id"]


async def test_create_refuses_bad_input_without_a_job(clients: Clients) -> None:
    text = await clients.alice.fails("createAffinityGroup", 431, name="g", type="same rack")
    assert "type" in text
    assert "name" in await clients.alice.fails("createAffinityGroup", 431, type="host affinity")
    await create_group(clients.alice, "g")
    text = await clients.alice.fails("createAffinityGroup", 431, name="g", type="host affinity")
    assert "already has an affinity group of this name" in text
    jobs = await clients.alice.ok("listAsyncJobs")
    assert jobs["count"] == 1
    # Names are per account.
    await create_group(clients.bob, "g")


async def test_group_types(clients: Clients) -> None:
    answer = await clients.bob.ok("listAffinityGroupTypes")
    assert answer == {
        "count": 2,
        "affinityGroupType": [{"type": "host affinity"}, {"type": "host anti-affinity"}],
    }


async def test_listing_filters_and_visibility(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    web = await create_group(clients.alice, "web", description="front end")
    await create_group(clients.alice, "db", "host affinity")
    await create_group(clients.carol, "carol-g")
    await create_group(clients.bob, "bob-g")
    assert await group_names(clients.alice) == ["db", "web"]
    assert await group_names(clients.alice, type="host affinity") == ["db"]
    assert await group_names(clients.alice, name="web") == ["web"]
    assert await group_names(clients.alice, keyword="FRONT") == ["web"]
    assert await group_names(clients.alice, id=web["id"]) == ["web"]
    assert await group_names(clients.bob, id=web["id"]) == []
    assert await group_names(clients.d1admin, listall=True) == ["carol-g", "db", "web"]
    assert await group_names(api, listall=True) == ["bob-g", "carol-g", "db", "web"]
    assert await group_names(
        clients.d1admin, account="alice", domainid=identities["alice"].domain_id
    ) == ["db", "web"]
    await clients.alice.fails("listAffinityGroups", 431, type="nope")
    page = await clients.alice.ok("listAffinityGroups", page=1, pagesize=1)
    assert page["count"] == 2
    assert len(page["affinitygroup"]) == 1


async def test_admin_creates_a_group_for_an_account(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice, bob = identities["alice"], identities["bob"]
    group = await create_group(clients.d1admin, "ops", account="alice", domainid=alice.domain_id)
    assert group["account"] == "alice"
    assert await group_names(clients.alice) == ["ops"]
    await clients.d1admin.fails(
        "createAffinityGroup",
        431,
        name="x",
        type="host affinity",
        account="bob",
        domainid=bob.domain_id,
    )


async def test_delete_by_id_or_name(clients: Clients) -> None:
    first = await create_group(clients.alice, "first")
    await create_group(clients.alice, "second")
    result = await run_job(clients.alice, "deleteAffinityGroup", id=first["id"])
    assert result == {"success": "true"}
    await run_job(clients.alice, "deleteAffinityGroup", name="second")
    assert await group_names(clients.alice) == []
    text = await clients.alice.fails("deleteAffinityGroup", 431, id=first["id"])
    assert f"Unable to find affinity group with id {first['id']}" in text
    await clients.alice.fails("deleteAffinityGroup", 431, id=UNKNOWN)
    assert "id or the name" in await clients.alice.fails("deleteAffinityGroup", 431)
    events = await clients.alice.ok("listEvents", type="AG.DELETE")
    assert events["count"] == 2


async def test_others_groups_are_not_found(clients: Clients) -> None:
    group = await create_group(clients.alice, "mine")
    text = await clients.bob.fails("deleteAffinityGroup", 431, id=group["id"])
    assert "Unable to find affinity group" in text
    await clients.bob.fails("deleteAffinityGroup", 431, name="mine")
    assert await group_names(clients.alice) == ["mine"]
    # Alice's domain admin may delete it.
    await run_job(clients.d1admin, "deleteAffinityGroup", id=group["id"])


async def test_members_are_listed_and_block_deletion(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    group = await create_group(clients.alice, "web")
    await create_group(clients.alice, "other", "host affinity")
    vm1 = await insert_vm(app.state.runtime, compute, alice.account, "vm1")
    vm2 = await insert_vm(app.state.runtime, compute, alice.account, "vm2")
    await join(app, alice, vm1, "web")
    await join(app, alice, vm2, "web", "other")
    await join(app, alice, vm2, "web")  # joining again changes nothing

    listed = (await clients.alice.ok("listAffinityGroups", name="web"))["affinitygroup"]
    assert listed[0]["virtualmachineIds"] == [vm1.uuid, vm2.uuid]
    assert await group_names(clients.alice, virtualmachineid=vm1.uuid) == ["web"]
    assert await group_names(clients.alice, virtualmachineid=vm2.uuid) == ["other", "web"]
    assert await group_names(clients.bob, virtualmachineid=vm2.uuid) == []

    async with app.state.runtime.db.transaction(write=False) as session:
        found = await affinity.groups_of(session, [vm1.id, vm2.id, 0])
    assert {vm: [g.name for g in groups] for vm, groups in found.items()} == {
        vm1.id: ["web"],
        vm2.id: ["web", "other"],
        0: [],
    }

    text = await clients.alice.fails("deleteAffinityGroup", 536, id=group["id"])
    assert "still has 2 VM(s)" in text
    # Expunged VMs no longer hold the group.
    async with app.state.runtime.db.transaction() as session:
        for vm_id in (vm1.id, vm2.id):
            row = await session.get(VirtualMachine, vm_id)
            assert row is not None
            row.removed = utcnow()
    await run_job(clients.alice, "deleteAffinityGroup", id=group["id"])


async def test_deploy_takes_groups_of_the_vms_account_only(
    app: Starlette, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    web = await create_group(clients.alice, "web")
    db = await create_group(clients.alice, "db")
    bobs = await create_group(clients.bob, "bobs")
    async with app.state.runtime.db.transaction(write=False) as session:
        ctx = await caller_context(app, alice, session)
        account_id = ctx.caller.account_id
        by_ids = await affinity.groups_for_deploy(
            ctx, account_id, [db["id"], web["id"], db["id"]], []
        )
        assert [group.name for group in by_ids] == ["db", "web"]
        assert await affinity.groups_for_deploy(ctx, account_id, [], []) == []
        for ids, names, expected in (
            ([bobs["id"]], [], "affinitygroupids"),
            ([], ["bobs"], "affinitygroupnames"),
            ([web["id"]], ["web"], "not both"),
        ):
            with pytest.raises(InvalidParameter, match=expected):
                await affinity.groups_for_deploy(ctx, account_id, ids, names)


async def test_update_vm_affinity_groups_of_a_stopped_vm(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    web = await create_group(clients.alice, "web")
    db = await create_group(clients.alice, "db", "host affinity")
    bobs = await create_group(clients.bob, "bobs")
    vm = await insert_vm(app.state.runtime, compute, alice.account, "vm1")
    await join(app, alice, vm, "web")

    result = await run_job(
        clients.alice, "updateVMAffinityGroup", id=vm.uuid, affinitygroupids=db["id"]
    )
    groups = result["virtualmachine"]["affinitygroup"]
    assert [(group["id"], group["name"]) for group in groups] == [(db["id"], "db")]
    assert await group_names(clients.alice, virtualmachineid=vm.uuid) == ["db"]
    await run_job(clients.alice, "updateVMAffinityGroup", id=vm.uuid, affinitygroupnames="web,db")
    assert await group_names(clients.alice, virtualmachineid=vm.uuid) == ["db", "web"]
    events = await clients.alice.ok("listEvents", type="VM.AFFINITY.GROUP.UPDATE")
    assert events["count"] == 2

    await clients.alice.fails("updateVMAffinityGroup", 431, id=vm.uuid, affinitygroupids=bobs["id"])
    await clients.bob.fails("updateVMAffinityGroup", 431, id=vm.uuid, affinitygroupids=bobs["id"])
    async with app.state.runtime.db.transaction() as session:
        row = await session.get(VirtualMachine, vm.id)
        assert row is not None
        row.state = "Running"
    text = await clients.alice.fails(
        "updateVMAffinityGroup", 431, id=vm.uuid, affinitygroupids=web["id"]
    )
    assert "not Stopped" in text
    assert await group_names(clients.alice, virtualmachineid=vm.uuid) == ["db", "web"]
