"""Security groups: create, list, delete, and ingress/egress rules that round-trip as
CloudStack (and Libcloud's ex_*_security_group* calls) shape them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from altostratus.core.context import Caller, ServiceContext
from altostratus.db.models import User
from altostratus.errors import InvalidParameter
from altostratus.runtime import Runtime
from altostratus.services.network import security_groups
from tests.api.network.test_networks import UNKNOWN, vm_row
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job
from tests.support.world import Identity


async def create(client: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    group: dict[str, Any] = (await client.ok("createSecurityGroup", name=name, **params))[
        "securitygroup"
    ]
    return group


async def names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listSecurityGroups", **params)
    return [group["name"] for group in listed.get("securitygroup", [])]


async def authorize(client: ApiClient, direction: str = "Ingress", **params: Any) -> dict[str, Any]:
    result = await run_job(client, f"authorizeSecurityGroup{direction}", **params)
    group: dict[str, Any] = result["securitygroup"]
    return group


# --- groups ---


async def test_create_answers_the_group_and_every_account_has_a_default(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    group = await create(clients.alice, "web", description="Web servers")
    assert group.pop("id")
    assert group == {
        "name": "web",
        "description": "Web servers",
        "account": "alice",
        "domainid": alice.domain_id,
        "domain": "d1",
        "ingressrule": [],
        "egressrule": [],
        "virtualmachinecount": 0,
        "tags": [],
    }
    assert await names(clients.alice) == ["default", "web"]
    assert await names(clients.alice, securitygroupname="web") == ["web"]
    assert await names(clients.alice, keyword="WE") == ["web"]
    events = await clients.alice.ok("listEvents", type="SG.CREATE")
    assert events["count"] == 2


async def test_names_are_unique_per_account_and_default_is_reserved(clients: Clients) -> None:
    await create(clients.alice, "web")
    assert "name" in await clients.alice.fails("createSecurityGroup", 431, name="web")
    assert "reserved" in await clients.alice.fails("createSecurityGroup", 431, name="default")
    # Another account may use the same name.
    await create(clients.bob, "web")
    assert "name" in await clients.alice.fails("createSecurityGroup", 431)


async def test_admins_create_for_accounts_they_manage(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    alice, bob = identities["alice"], identities["bob"]
    group = await create(clients.d1admin, "ops", account="alice", domainid=alice.domain_id)
    assert group["account"] == "alice"
    assert "ops" in await names(clients.alice)
    await clients.d1admin.fails(
        "createSecurityGroup", 431, name="x", account="bob", domainid=bob.domain_id
    )
    await clients.alice.fails(
        "createSecurityGroup", 431, name="x", account="bob", domainid=bob.domain_id
    )


async def test_groups_are_visible_to_their_account_and_its_admins_only(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    web = await create(clients.alice, "web")
    assert await clients.bob.ok("listSecurityGroups", id=web["id"]) == {}
    assert "web" not in await names(clients.bob)
    assert web["id"] in await clients.bob.fails("deleteSecurityGroup", 431, id=web["id"])
    assert "web" not in await names(clients.d1admin)
    assert "web" in await names(clients.d1admin, listall=True)
    assert "web" not in await names(clients.bob, listall=True)
    named = await names(clients.d1admin, account="alice", domainid=identities["alice"].domain_id)
    assert named == ["default", "web"]


async def test_delete_by_id_or_name_but_never_the_default(clients: Clients) -> None:
    web = await create(clients.alice, "web")
    await create(clients.alice, "db")
    assert await clients.alice.ok("deleteSecurityGroup", id=web["id"]) == {"success": "true"}
    assert await clients.alice.ok("deleteSecurityGroup", name="db") == {"success": "true"}
    assert await names(clients.alice) == ["default"]
    assert "default" in await clients.alice.fails("deleteSecurityGroup", 431, name="default")
    assert "name" in await clients.alice.fails("deleteSecurityGroup", 431, name="nope")
    assert "id" in await clients.alice.fails("deleteSecurityGroup", 431)
    assert (await clients.alice.ok("listEvents", type="SG.DELETE"))["count"] == 2


async def test_a_group_in_use_by_a_vm_is_not_deleted(
    app: Starlette, clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    runtime = app.state.runtime
    web = await create(clients.alice, "web")
    vm_id = await vm_row(runtime, compute, "alice")
    async with runtime.db.transaction() as session:
        ctx = await _context_of(session, runtime, "alice")
        groups = await security_groups.groups_for_deploy(ctx, ctx.caller.account_id, None, ["web"])
        assert [g.name for g in groups] == ["web"]
        await security_groups.attach(session, vm_id, groups)
        await security_groups.attach(session, vm_id, groups)  # idempotent
        of = await security_groups.groups_of(session, [vm_id])
        assert [g.name for g in of[vm_id]] == ["web"]
    listed = await clients.alice.ok("listSecurityGroups", id=web["id"])
    assert listed["securitygroup"][0]["virtualmachinecount"] == 1
    text = await clients.alice.fails("deleteSecurityGroup", 536, id=web["id"])
    assert "1 VM" in text


async def _context_of(session: AsyncSession, runtime: Runtime, name: str) -> ServiceContext:
    """What a deploy's service call gets: the account's user as the caller."""
    user = (await session.scalars(select(User).where(User.username == name))).one()
    return ServiceContext(session, Caller.of(user, user.account), runtime.deps)


async def test_deploy_groups_default_to_the_accounts_default_group(
    app: Starlette, identities: dict[str, Identity]
) -> None:
    runtime = app.state.runtime
    async with runtime.db.transaction() as session:
        ctx = await _context_of(session, runtime, "bob")
        account_id = ctx.caller.account_id
        (default,) = await security_groups.groups_for_deploy(ctx, account_id, None, None)
        assert default.name == "default"
        again = await security_groups.groups_for_deploy(ctx, account_id, None, None)
        assert again == [default]
        for ids, group_names, parameter in (
            ([UNKNOWN], None, "securitygroupids"),
            (None, ["nope"], "securitygroupnames"),
            ([UNKNOWN], ["default"], "mutually exclusive"),
        ):
            with pytest.raises(InvalidParameter, match=parameter):
                await security_groups.groups_for_deploy(ctx, account_id, ids, group_names)


# --- rules ---


async def test_ingress_rules_round_trip(clients: Clients, identities: dict[str, Identity]) -> None:
    web = await create(clients.alice, "web")
    group = await authorize(
        clients.alice,
        securitygroupname="web",
        protocol="TCP",
        startport=80,
        endport=81,
        cidrlist="0.0.0.0/0,10.0.0.5/8",
    )
    assert group["id"] == web["id"]
    rules = group["ingressrule"]
    assert [(r["protocol"], r["startport"], r["endport"], r["cidr"]) for r in rules] == [
        ("tcp", 80, 81, "0.0.0.0/0"),
        ("tcp", 80, 81, "10.0.0.0/8"),
    ]
    assert all(r["ruleid"] for r in rules)
    assert group["egressrule"] == []
    # The same rule again adds nothing.
    again = await authorize(
        clients.alice,
        securitygroupid=web["id"],
        protocol="tcp",
        startport=80,
        endport=81,
        cidrlist="0.0.0.0/0",
    )
    assert len(again["ingressrule"]) == 2
    icmp = await authorize(
        clients.alice, securitygroupid=web["id"], protocol="icmp", cidrlist="0.0.0.0/0"
    )
    (echo,) = [r for r in icmp["ingressrule"] if r["protocol"] == "icmp"]
    assert (echo["icmptype"], echo["icmpcode"]) == (-1, -1)
    assert "startport" not in echo
    # A rule allowing another group's members names that group and its account.
    await create(clients.alice, "lb")
    by_group = await authorize(
        clients.alice,
        securitygroupid=web["id"],
        protocol="tcp",
        startport=8080,
        **{"usersecuritygrouplist[0].account": "alice", "usersecuritygrouplist[0].group": "lb"},
    )
    (from_lb,) = [r for r in by_group["ingressrule"] if r.get("securitygroupname")]
    assert (from_lb["account"], from_lb["securitygroupname"]) == ("alice", "lb")
    assert (from_lb["startport"], from_lb["endport"]) == (8080, 8080)
    assert "cidr" not in from_lb
    listed = await clients.alice.ok("listSecurityGroups", id=web["id"])
    assert len(listed["securitygroup"][0]["ingressrule"]) == 4
    # Revoking removes exactly that rule.
    rule_id = rules[0]["ruleid"]
    assert await run_job(clients.alice, "revokeSecurityGroupIngress", id=rule_id) == {
        "success": "true"
    }
    listed = await clients.alice.ok("listSecurityGroups", id=web["id"])
    remaining = [r["ruleid"] for r in listed["securitygroup"][0]["ingressrule"]]
    assert rule_id not in remaining
    assert len(remaining) == 3
    assert "rule" in await clients.alice.fails("revokeSecurityGroupIngress", 431, id=rule_id)
    assert (await clients.alice.ok("listEvents", type="SG.AUTH.INGRESS"))["count"] == 3
    assert (await clients.alice.ok("listEvents", type="SG.REVOKE.INGRESS"))["count"] == 1


async def test_egress_rules_round_trip_separately(clients: Clients) -> None:
    web = await create(clients.alice, "web")
    group = await authorize(
        clients.alice,
        "Egress",
        securitygroupid=web["id"],
        protocol="udp",
        startport=53,
        cidrlist="8.8.8.8/32",
    )
    (rule,) = group["egressrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"]) == ("udp", 53, 53)
    assert group["ingressrule"] == []
    # An egress rule is not an ingress rule.
    await clients.alice.fails("revokeSecurityGroupIngress", 431, id=rule["ruleid"])
    await run_job(clients.alice, "revokeSecurityGroupEgress", id=rule["ruleid"])
    listed = await clients.alice.ok("listSecurityGroups", id=web["id"])
    assert listed["securitygroup"][0]["egressrule"] == []


async def test_rule_parameters_are_checked_before_any_job(clients: Clients) -> None:
    await create(clients.alice, "web")
    base = {"securitygroupname": "web", "cidrlist": "0.0.0.0/0"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"protocol": "tcp"}, "startport"),
        ({"protocol": "tcp", "startport": 90, "endport": 80}, "endport"),
        ({"protocol": "tcp", "startport": 70000}, "startport"),
        ({"protocol": "icmp", "startport": 80}, "startport"),
        ({"protocol": "tcp", "startport": 80, "icmptype": 8}, "icmptype"),
        ({"protocol": "all", "startport": 80}, "startport"),
        ({"protocol": "gre"}, "protocol"),
        ({"protocol": "300"}, "protocol"),
        ({"protocol": "tcp", "startport": 22, "cidrlist": "10.0.0.0/33"}, "cidrlist"),
        ({"protocol": "tcp", "startport": 22, "cidrlist": None}, "cidrlist"),
        (
            {"protocol": "tcp", "startport": 22, "usersecuritygrouplist[0].account": "alice"},
            "usersecuritygrouplist",
        ),
        (
            {
                "protocol": "tcp",
                "startport": 22,
                "usersecuritygrouplist[0].account": "bob",
                "usersecuritygrouplist[0].group": "default",
            },
            "usersecuritygrouplist",
        ),
    ]
    for params, parameter in cases:
        text = await clients.alice.fails("authorizeSecurityGroupIngress", 431, **{**base, **params})
        assert parameter in text, (params, text)
    assert "protocol" in await clients.alice.fails(
        "authorizeSecurityGroupIngress", 431, securitygroupname="web"
    )
    await clients.alice.fails(
        "authorizeSecurityGroupIngress",
        431,
        securitygroupname="nope",
        protocol="all",
        cidrlist="0.0.0.0/0",
    )
    assert await clients.alice.ok("listAsyncJobs") == {}
    group = await authorize(
        clients.alice, securitygroupname="web", protocol="6", cidrlist="0.0.0.0/0"
    )
    assert group["ingressrule"][0]["protocol"] == "6"


async def test_others_cannot_change_a_groups_rules(clients: Clients) -> None:
    web = await create(clients.alice, "web")
    group = await authorize(
        clients.alice, securitygroupid=web["id"], protocol="all", cidrlist="0.0.0.0/0"
    )
    rule_id = group["ingressrule"][0]["ruleid"]
    await clients.bob.fails(
        "authorizeSecurityGroupIngress",
        431,
        securitygroupid=web["id"],
        protocol="all",
        cidrlist="0.0.0.0/0",
    )
    await clients.bob.fails("revokeSecurityGroupIngress", 431, id=rule_id)
    # Her domain admin may.
    await run_job(clients.d1admin, "revokeSecurityGroupIngress", id=rule_id)


async def test_list_by_tag(api: ApiClient, clients: Clients) -> None:
    web = await create(clients.alice, "web")
    await create(clients.alice, "db")
    await run_job(
        clients.alice,
        "createTags",
        resourcetype="SecurityGroup",
        resourceids=web["id"],
        **{"tags[0].key": "tier", "tags[0].value": "front"},
    )
    tagged = await clients.alice.ok(
        "listSecurityGroups", **{"tags[0].key": "tier", "tags[0].value": "front"}
    )
    (group,) = tagged["securitygroup"]
    assert group["id"] == web["id"]
    assert [(t["key"], t["value"]) for t in group["tags"]] == [("tier", "front")]
