"""updateResourceLimit and listResourceLimits, and the 532 that limits cause."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import Account, ServiceOffering, Template, VirtualMachine, Volume
from altostratus.errors import ResourceLimitExceeded
from altostratus.runtime import Runtime
from altostratus.services.shared import limits
from altostratus.services.shared.limits import ResourceType
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.world import Identity

ALL_TYPES = ["0", "1", "2", "3", "4", "6", "8", "9", "10", "11"]


async def limits_of(client: ApiClient, **params: Any) -> dict[str, int]:
    """``resourcetype`` → ``max`` as listed."""
    listed = await client.ok("listResourceLimits", **params)
    return {entry["resourcetype"]: entry["max"] for entry in listed.get("resourcelimit", [])}


async def test_limits_default_to_unlimited_and_list_every_type(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    listed = await clients.alice.ok("listResourceLimits")
    assert listed["count"] == 10
    assert [entry["resourcetype"] for entry in listed["resourcelimit"]] == ALL_TYPES
    assert listed["resourcelimit"][0] == {
        "account": "alice",
        "domainid": alice.domain_id,
        "domain": "d1",
        "domainpath": "ROOT/d1",
        "resourcetype": "0",
        "resourcetypename": "user_vm",
        "max": -1,
    }
    names = [entry["resourcetypename"] for entry in listed["resourcelimit"]]
    assert names[-4:] == ["cpu", "memory", "primary_storage", "secondary_storage"]


async def test_admin_sets_an_account_limit_the_account_sees(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    answer = await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=0, max=2
    )
    assert answer["resourcelimit"]["max"] == 2
    assert answer["resourcelimit"]["account"] == "alice"
    assert (await limits_of(clients.alice))["0"] == 2
    assert await limits_of(clients.alice, resourcetype=0) == {"0": 2}
    assert await limits_of(clients.alice, resourcetypename="user_vm") == {"0": 2}
    lifted = await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=0
    )
    assert lifted["resourcelimit"]["max"] == -1
    events = await clients.admin.ok("listEvents", type="RESOURCE.LIMIT.UPDATE", listall=True)
    assert events["count"] == 2
    assert "user_vm limit of account alice to 2" in events["event"][1]["description"]


async def test_domain_limits_are_listed_by_domain_and_stay_within_the_parents(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    d1 = identities["d1admin"].domain_id
    sub = identities["carol"].domain_id
    api = clients.admin
    await api.ok("updateResourceLimit", domainid=d1, resourcetype=8, max=10)
    assert await limits_of(api, domainid=d1, resourcetype=8) == {"8": 10}
    listed = await api.ok("listResourceLimits", domainid=d1, resourcetypename="cpu")
    assert "account" not in listed["resourcelimit"][0]
    text = await api.fails("updateResourceLimit", 431, domainid=sub, resourcetype=8, max=11)
    assert "limits cpu to 10" in text
    await api.ok("updateResourceLimit", domainid=sub, resourcetype=8, max=10)
    await api.ok("updateResourceLimit", domainid=sub, resourcetype=8, max=-1)
    # The account limits of the domain's accounts are their own, still unlimited.
    assert (await limits_of(clients.carol))["8"] == -1


async def test_root_domain_and_root_admins_stay_unlimited(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    root = identities["admin"].domain_id
    api = clients.admin
    assert "ROOT domain" in await api.fails(
        "updateResourceLimit", 531, domainid=root, resourcetype=0, max=1
    )
    assert "root admins are not limited" in await api.fails(
        "updateResourceLimit", 431, account="admin", domainid=root, resourcetype=0, max=1
    )


async def test_domain_admins_set_limits_below_themselves_only(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    d1admin = clients.d1admin
    d1 = identities["d1admin"].domain_id
    sub = identities["carol"].domain_id
    d2 = identities["bob"].domain_id
    await d1admin.ok("updateResourceLimit", account="alice", domainid=d1, resourcetype=2, max=4)
    await d1admin.ok("updateResourceLimit", domainid=sub, resourcetype=2, max=4)
    assert "own account" in await d1admin.fails(
        "updateResourceLimit", 531, account="d1admin", domainid=d1, resourcetype=2, max=4
    )
    assert "permission denied" in await d1admin.fails(
        "updateResourceLimit", 531, domainid=d1, resourcetype=2, max=4
    )
    # Outside its subtree nothing exists for it.
    text = await d1admin.fails("updateResourceLimit", 431, domainid=d2, resourcetype=2, max=4)
    assert f"Unable to find domain with id {d2}" in text
    text = await d1admin.fails(
        "updateResourceLimit", 431, account="bob", domainid=d2, resourcetype=2, max=4
    )
    assert "Unable to find account" in text


async def test_users_list_only_their_own_limits_and_set_none(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    bob = identities["bob"]
    await clients.alice.fails(
        "updateResourceLimit", 531, account="alice", domainid=alice.domain_id, resourcetype=0
    )
    await clients.alice.fails("listResourceLimits", 431, account="bob", domainid=bob.domain_id)
    await clients.alice.fails("listResourceLimits", 431, domainid=bob.domain_id)
    # Its own domain's limits a user may read.
    assert (await limits_of(clients.alice, domainid=alice.domain_id))["0"] == -1


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"resourcetype": 5}, "resourcetype"),
        ({"resourcetype": "cpu"}, "resourcetype"),
        ({"resourcetype": 0, "max": -2}, "max"),
        ({"max": 3}, "resourcetype"),
    ],
)
async def test_update_refuses_bad_input_naming_the_parameter(
    api: ApiClient, identities: dict[str, Identity], params: dict[str, Any], parameter: str
) -> None:
    domain = identities["carol"].domain_id
    text = await api.fails("updateResourceLimit", 431, domainid=domain, **params)
    assert parameter in text


async def test_update_needs_an_account_or_a_domain(api: ApiClient) -> None:
    assert "domainid" in await api.fails("updateResourceLimit", 431, resourcetype=0, max=1)


async def test_list_refuses_unknown_or_conflicting_types(api: ApiClient) -> None:
    assert "resourcetypename" in await api.fails(
        "listResourceLimits", 431, resourcetypename="project"
    )
    assert "different types" in await api.fails(
        "listResourceLimits", 431, resourcetype=0, resourcetypename="cpu"
    )


async def _account_id(app: Starlette, name: str) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.db.transaction(write=False) as session:
        found = await session.scalar(select(Account.id).where(Account.name == name))
    assert found is not None
    return found


async def _add_vm(app: Starlette, world: ComputeWorld, account_id: int, name: str) -> None:
    """A VM row as a deploy leaves it (with its 2 GiB root volume)."""
    async with app.state.runtime.db.transaction() as session:
        account = await session.get_one(Account, account_id)
        offering = await session.scalar(
            select(ServiceOffering).where(ServiceOffering.uuid == world.small_offering_id)
        )
        template = await session.scalar(select(Template).where(Template.uuid == world.template_id))
        assert offering is not None
        assert template is not None
        vm = VirtualMachine(
            name=name,
            display_name=name,
            instance_name=f"i-{account_id}-{name}",
            account_id=account_id,
            domain_id=account.domain_id,
            zone_id=template.zone_id or 1,
            service_offering_id=offering.id,
            template_id=template.id,
            cpu_number=offering.cpu_number,
            cpu_speed=offering.cpu_speed,
            memory_mb=offering.memory_mb,
        )
        session.add(vm)
        await session.flush()
        session.add(
            Volume(
                name=f"ROOT-{vm.id}",
                account_id=account_id,
                domain_id=account.domain_id,
                zone_id=vm.zone_id,
                vm_id=vm.id,
                type="ROOT",
                size=2 * 1024**3,
            )
        )


async def _check(app: Starlette, account_id: int, wanted: dict[ResourceType, int]) -> None:
    async with app.state.runtime.db.transaction() as session:
        await limits.check(session, account_id, wanted)


async def test_check_counts_live_rows_against_account_and_domain_limits(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    alice_id = await _account_id(app, "alice")
    carol_id = await _account_id(app, "carol")
    vm = {ResourceType.INSTANCE: 1, ResourceType.CPU: 1, ResourceType.MEMORY: 512}
    await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=0, max=2
    )
    for name in ("one", "two"):
        await _check(app, alice_id, vm)
        await _add_vm(app, compute, alice_id, name)
    with pytest.raises(ResourceLimitExceeded) as caught:
        await _check(app, alice_id, vm)
    assert caught.value.code == 532
    assert caught.value.text.startswith(
        "Maximum number of resources of type 'user_vm' for account name=alice in domain "
        f"id={alice.domain_id} has been exceeded."
    )
    # Primary storage is counted in bytes against a limit in GiB: 2 x 2 GiB used of 5.
    await clients.admin.ok("updateResourceLimit", domainid=alice.domain_id, resourcetype=10, max=5)
    await _check(app, alice_id, {ResourceType.PRIMARY_STORAGE: 1024**3})
    with pytest.raises(ResourceLimitExceeded) as caught:
        await _check(app, carol_id, {ResourceType.PRIMARY_STORAGE: 1024**3 + 1})
    assert f"'primary_storage' for domain id={alice.domain_id}" in caught.value.text
    # A type without a limit, and nothing wanted, always pass.
    await _check(app, alice_id, {ResourceType.SNAPSHOT: 100, ResourceType.INSTANCE: 0})


async def test_destroyed_vms_free_their_slot_and_root_admins_are_never_limited(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    alice_id = await _account_id(app, "alice")
    await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=9, max=512
    )
    await _add_vm(app, compute, alice_id, "one")
    with pytest.raises(ResourceLimitExceeded):
        await _check(app, alice_id, {ResourceType.MEMORY: 512})
    async with app.state.runtime.db.transaction() as session:
        found = await session.scalar(
            select(VirtualMachine).where(VirtualMachine.account_id == alice_id)
        )
        assert found is not None
        found.state = "Destroyed"
    await _check(app, alice_id, {ResourceType.MEMORY: 512})
    await _check(app, await _account_id(app, "admin"), {ResourceType.MEMORY: 10**9})


async def test_deploy_beyond_the_instance_limit_fails_532(
    compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=0, max=1
    )
    deploy = {
        "zoneid": compute.zone_id,
        "serviceofferingid": compute.small_offering_id,
        "templateid": compute.template_id,
        "startvm": False,
    }
    await clients.alice.ok("deployVirtualMachine", **deploy)
    text = await clients.alice.fails("deployVirtualMachine", 532, **deploy)
    assert "'user_vm' for account name=alice" in text
    # Another account of the same domain is not held back by alice's own limit.
    await clients.d1admin.ok("deployVirtualMachine", **deploy)


async def test_account_and_domain_answers_show_limits_and_use(
    app: Starlette, compute: ComputeWorld, clients: Clients, identities: dict[str, Identity]
) -> None:
    """``vmlimit``/``vmtotal``/``vmavailable``, … as CloudStack's account and domain show them."""
    alice = identities["alice"]
    offering = (await clients.admin.ok("listServiceOfferings", id=compute.small_offering_id))[
        "serviceoffering"
    ][0]
    await clients.admin.ok(
        "updateResourceLimit", account="alice", domainid=alice.domain_id, resourcetype=0, max=5
    )
    await clients.admin.ok("updateResourceLimit", domainid=alice.domain_id, resourcetype=8, max=40)
    account_id = await _account_id(app, "alice")
    await _add_vm(app, compute, account_id, "one")
    await _add_vm(app, compute, account_id, "two")

    account = (await clients.alice.ok("listAccounts"))["account"][0]
    assert (account["vmlimit"], account["vmtotal"], account["vmavailable"]) == ("5", 2, "3")
    assert (account["vmstopped"], account["vmrunning"]) == (2, 0)
    assert (account["cpulimit"], account["cputotal"], account["cpuavailable"]) == (
        "Unlimited",
        2 * offering["cpunumber"],
        "Unlimited",
    )
    assert (account["memorytotal"], account["primarystoragetotal"]) == (
        2 * offering["memory"],
        4,
    )
    domain = (await clients.admin.ok("listDomains", id=alice.domain_id))["domain"][0]
    assert (domain["cpulimit"], domain["cputotal"]) == ("40", 2 * offering["cpunumber"])
    assert domain["cpuavailable"] == str(40 - 2 * offering["cpunumber"])
    assert (domain["vmlimit"], domain["vmtotal"]) == ("Unlimited", 2)
    root = (await clients.admin.ok("listDomains", id=identities["admin"].domain_id))["domain"][0]
    assert (root["vmlimit"], root["vmtotal"]) == ("Unlimited", 2)
    admin = (await clients.admin.ok("listAccounts", id=identities["admin"].account_id))["account"]
    assert (admin[0]["vmlimit"], admin[0]["vmavailable"]) == ("Unlimited", "Unlimited")
