"""Domain commands: the tree, its paths, who may change which part, and the listings.

The helpers at the top are shared with ``test_accounts`` and ``test_users``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from altostratus.db.engine import Database
from altostratus.db.models import Domain, Zone
from altostratus.settings import Settings
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.jobs import wait_job
from tests.support.world import Identity

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


async def job_result(client: ApiClient, command: str, **params: Any) -> dict[str, Any]:
    """Run an async command and return its job's result, checking that the job succeeded."""
    answer = await client.ok(command, **params)
    job = await wait_job(client, answer["jobid"])
    assert (job["jobstatus"], job["jobresultcode"], job["cmd"]) == (1, 0, command)
    result: dict[str, Any] = job["jobresult"]
    return result


async def names(client: ApiClient, command: str, key: str, **params: Any) -> list[str]:
    """The ``name`` (or ``username``) of every listed object, all pages."""
    listing = await client.ok(command, pagesize=-1, **params)
    field = "username" if key == "user" else "name"
    return sorted(item[field] for item in listing.get(key, []))


async def all_domains(client: ApiClient) -> list[str]:
    listing = await client.ok("listDomains", listall=True)
    return sorted(domain["path"] for domain in listing["domain"])


#: The endings of the resource-limit fields (``vmlimit``, ``vmtotal``, ``vmavailable``, …).
LIMIT_SUFFIXES = ("limit", "total", "available")
WORLD = ["ROOT", "ROOT/d1", "ROOT/d1/sub", "ROOT/d2"]


async def test_create_domain_answer_and_listing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    created = (await api.ok("createDomain", name="sales", networkdomain="sales.example.org"))[
        "domain"
    ]
    root = identities["admin"].domain_id
    assert TIMESTAMP.match(created.pop("created"))
    assert uuid.UUID(created.pop("id"))
    counts = {k: created.pop(k) for k in list(created) if k.endswith(LIMIT_SUFFIXES)}
    assert (counts["vmlimit"], counts["vmtotal"], counts["vmavailable"]) == (
        "Unlimited",
        0,
        "Unlimited",
    )
    assert len(counts) == 30
    assert created == {
        "name": "sales",
        "level": 1,
        "parentdomainid": root,
        "parentdomainname": "ROOT",
        "haschild": False,
        "path": "ROOT/sales",
        "networkdomain": "sales.example.org",
        "state": "Active",
    }
    nested = await api.ok("createDomain", name="emea", parentdomainid=identities["alice"].domain_id)
    assert (nested["domain"]["path"], nested["domain"]["level"]) == ("ROOT/d1/emea", 2)
    assert await all_domains(api) == sorted([*WORLD, "ROOT/sales", "ROOT/d1/emea"])
    listed = (await api.ok("listDomains", id=root))["domain"][0]
    assert (listed["haschild"], "parentdomainid" in listed) == (True, False)


async def test_marvin_create_domain_with_given_uuid(api: ApiClient) -> None:
    chosen = str(uuid.uuid4())
    created = await api.ok("createDomain", name="marvin", domainid=chosen)
    assert created["domain"]["id"] == chosen
    listed = await api.ok("listDomains", id=chosen)
    assert (listed["count"], listed["domain"][0]["name"]) == (1, "marvin")
    text = await api.fails("createDomain", 431, name="other", domainid=chosen)
    assert "domainid" in text
    assert "already exists" in await api.fails("createDomain", 431, name="marvin")
    assert await all_domains(api) == sorted([*WORLD, "ROOT/marvin"])


async def test_create_domain_bad_parameters_change_nothing(api: ApiClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "x", "parentdomainid": "nope"}, "parentdomainid"),
        ({"name": "x", "parentdomainid": str(uuid.uuid4())}, "Unable to find domain"),
        ({"name": "x", "networkdomain": "bad_domain!"}, "networkdomain"),
        ({"name": "x", "domainid": "12"}, "domainid"),
    ]
    for params, expected in cases:
        text = await api.fails("createDomain", 431, **params)
        assert expected in text, (params, text)
    assert await all_domains(api) == WORLD


async def test_create_domain_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    d1admin = clients.d1admin
    own = await d1admin.ok("createDomain", name="team")
    assert own["domain"]["path"] == "ROOT/d1/team"
    below = await d1admin.ok(
        "createDomain", name="deep", parentdomainid=identities["carol"].domain_id
    )
    assert below["domain"]["path"] == "ROOT/d1/sub/deep"
    for parent in (identities["admin"].domain_id, identities["bob"].domain_id):
        await d1admin.fails("createDomain", 531, name="escape", parentdomainid=parent)
    for user in (clients.alice, clients.bob):
        await user.fails("createDomain", 531, name="mine")
    assert await all_domains(clients.admin) == sorted([*WORLD, "ROOT/d1/team", "ROOT/d1/sub/deep"])


async def test_rename_rewrites_the_subtree_but_not_old_events(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api, d1 = clients.admin, identities["alice"].domain_id
    await clients.d1admin.ok("createDomain", name="team")  # an event owned in ROOT/d1
    renamed = await api.ok("updateDomain", id=d1, name="east")
    assert (renamed["domain"]["name"], renamed["domain"]["path"]) == ("east", "ROOT/east")
    assert renamed["domain"]["haschild"] is True
    assert await all_domains(api) == [
        "ROOT",
        "ROOT/d2",
        "ROOT/east",
        "ROOT/east/sub",
        "ROOT/east/team",
    ]
    account = (await clients.carol.ok("listAccounts"))["account"][0]
    assert account["domainpath"] == "ROOT/east/sub"
    # The domain admin keeps working in its renamed domain.
    assert (await clients.d1admin.ok("createDomain", name="more"))["domain"][
        "path"
    ] == "ROOT/east/more"
    events = (await api.ok("listEvents", type="DOMAIN.CREATE", listall=True))["event"]
    assert [e["domain"] for e in events] == ["east", "d1"]


async def test_update_domain_rules(api: ApiClient, identities: dict[str, Identity]) -> None:
    root, d1 = identities["admin"].domain_id, identities["alice"].domain_id
    assert "ROOT" in await api.fails("updateDomain", 431, id=root, name="TOP")
    assert "already exists" in await api.fails("updateDomain", 431, id=d1, name="d2")
    assert "Unable to find domain" in await api.fails("updateDomain", 431, id=str(uuid.uuid4()))
    assert "id" in await api.fails("updateDomain", 431, name="x")
    assert "networkdomain" in await api.fails("updateDomain", 431, id=d1, networkdomain="-bad-")
    assert await all_domains(api) == WORLD
    root_net = await api.ok("updateDomain", id=root, networkdomain="cloud.example.org")
    assert root_net["domain"]["networkdomain"] == "cloud.example.org"
    assert root_net["domain"]["name"] == "ROOT"


async def test_update_domain_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    sub, d1, d2 = (identities[n].domain_id for n in ("carol", "alice", "bob"))
    assert (await clients.d1admin.ok("updateDomain", id=sub, name="south"))["domain"][
        "path"
    ] == "ROOT/d1/south"
    assert "own domain" in await clients.d1admin.fails("updateDomain", 531, id=d1, name="mine")
    await clients.d1admin.fails("updateDomain", 431, id=d2, name="mine")
    await clients.alice.fails("updateDomain", 531, id=d1, name="mine")
    assert await all_domains(clients.admin) == ["ROOT", "ROOT/d1", "ROOT/d1/south", "ROOT/d2"]


async def test_delete_domain_refuses_a_domain_in_use(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    d1, d2 = identities["alice"].domain_id, identities["bob"].domain_id
    assert "child domain" in await api.fails("deleteDomain", 536, id=d1)
    assert "1 account" in await api.fails("deleteDomain", 536, id=d2)
    assert "ROOT" in await api.fails("deleteDomain", 431, id=identities["admin"].domain_id)
    assert "id" in await api.fails("deleteDomain", 431)
    assert "id" in await api.fails("deleteDomain", 431, id="d2")
    assert await all_domains(api) == WORLD


async def test_delete_empty_domain_is_an_async_job(api: ApiClient) -> None:
    created = (await api.ok("createDomain", name="gone"))["domain"]
    answer = await api.ok("deleteDomain", id=created["id"])
    assert set(answer) == {"jobid"}
    job = await wait_job(api, answer["jobid"])
    assert (job["jobstatus"], job["jobresult"]) == (1, {"success": "true"})
    assert await all_domains(api) == WORLD
    assert [
        e["resourceid"] for e in (await api.ok("listEvents", type="DOMAIN.DELETE"))["event"]
    ] == [created["id"]]


async def test_cleanup_deletes_the_subtree_with_accounts_and_users(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    api = clients.admin
    result = await job_result(api, "deleteDomain", id=identities["alice"].domain_id, cleanup=True)
    assert result == {"success": "true"}
    assert await all_domains(api) == ["ROOT", "ROOT/d2"]
    assert await names(api, "listAccounts", "account", listall=True) == ["admin", "bob"]
    for gone in (clients.alice, clients.carol, clients.d1admin):
        await gone.fails("listDomains", 401)


async def test_delete_domain_permissions(clients: Clients, identities: dict[str, Identity]) -> None:
    d1, d2, sub = (identities[n].domain_id for n in ("alice", "bob", "carol"))
    assert "own account" in await clients.d1admin.fails("deleteDomain", 531, id=d1, cleanup=True)
    await clients.d1admin.fails("deleteDomain", 431, id=d2, cleanup=True)
    await clients.alice.fails("deleteDomain", 531, id=sub, cleanup=True)
    assert await all_domains(clients.admin) == WORLD
    kim = {
        "accounttype": 1,
        "username": "kim",
        "password": "pw",
        "email": "kim@example.org",
        "firstname": "Kim",
        "lastname": "Root",
        "domainid": sub,
    }
    root_in_sub = (await clients.admin.ok("createAccount", **kim))["account"]["id"]
    assert "kim" in await clients.d1admin.fails("deleteDomain", 531, id=sub, cleanup=True)
    await job_result(clients.admin, "deleteAccount", id=root_in_sub)
    await job_result(clients.d1admin, "deleteDomain", id=sub, cleanup=True)
    assert await all_domains(clients.admin) == ["ROOT", "ROOT/d1", "ROOT/d2"]


async def test_domain_used_by_a_dedicated_zone_is_in_use(
    api: ApiClient, settings: Settings, identities: dict[str, Identity]
) -> None:
    assert settings.database_url is not None
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            d2 = await session.scalar(
                select(Domain.id).where(Domain.uuid == identities["bob"].domain_id)
            )
            assert d2 is not None
            session.add(
                Zone(
                    name="z",
                    network_type="Advanced",
                    dns1="8.8.8.8",
                    internal_dns1="10.0.0.1",
                    domain_id=d2,
                )
            )
    finally:
        await db.close()
    text = await api.fails("deleteDomain", 536, id=identities["bob"].domain_id, cleanup=True)
    assert "in use" in text
    assert await all_domains(api) == WORLD
    assert await names(api, "listAccounts", "account", listall=True, name="bob") == ["bob"]


async def test_list_domains_visibility(clients: Clients, identities: dict[str, Identity]) -> None:
    async def paths(client: ApiClient, **params: Any) -> list[str]:
        listing = await client.ok("listDomains", **params)
        return sorted(domain["path"] for domain in listing.get("domain", []))

    # As CloudStack: a root admin lists every domain, listall or not; others their own.
    assert await paths(clients.admin) == WORLD
    assert await paths(clients.admin, level=1) == ["ROOT/d1", "ROOT/d2"]
    assert await paths(clients.admin, listall=True) == WORLD
    assert await paths(clients.d1admin) == ["ROOT/d1"]
    assert await paths(clients.d1admin, level=2) == []
    assert await paths(clients.d1admin, listall=True, level=2) == ["ROOT/d1/sub"]
    assert await paths(clients.d1admin, listall=True) == ["ROOT/d1", "ROOT/d1/sub"]
    assert await paths(clients.d1admin, id=identities["carol"].domain_id) == ["ROOT/d1/sub"]
    assert await paths(clients.d1admin, id=identities["bob"].domain_id) == []
    assert await paths(clients.alice, listall=True) == ["ROOT/d1"]
    assert await paths(clients.bob, listall=True) == ["ROOT/d2"]
    assert await paths(clients.carol, id=identities["alice"].domain_id) == []


async def test_list_domains_filters_and_paging(api: ApiClient) -> None:
    async def paths(**params: Any) -> list[str]:
        listing = await api.ok("listDomains", listall=True, **params)
        return [domain["path"] for domain in listing.get("domain", [])]

    assert await paths(name="sub") == ["ROOT/d1/sub"]
    assert await paths(level=1) == ["ROOT/d1", "ROOT/d2"]
    assert await paths(keyword="D") == ["ROOT/d1", "ROOT/d2"]
    assert await paths(details="min,all") == WORLD
    page = await api.ok("listDomains", listall=True, page=2, pagesize=3)
    assert (page["count"], [d["path"] for d in page["domain"]]) == (4, ["ROOT/d2"])
    for params, parameter in (
        ({"page": 1}, "pagesize"),
        ({"level": -1}, "level"),
        ({"details": "everything"}, "details"),
        ({"id": "x"}, "id"),
    ):
        assert parameter in await api.fails("listDomains", 431, **params)


async def test_list_domain_children(clients: Clients, identities: dict[str, Identity]) -> None:
    d1, d2 = identities["alice"].domain_id, identities["bob"].domain_id
    assert await names(clients.admin, "listDomainChildren", "domain") == ["d1", "d2"]
    assert await names(clients.admin, "listDomainChildren", "domain", isrecursive=True) == [
        "d1",
        "d2",
        "sub",
    ]
    assert await names(clients.admin, "listDomainChildren", "domain", listall=True, name="sub") == [
        "sub"
    ]
    assert await names(clients.admin, "listDomainChildren", "domain", id=d1) == ["sub"]
    assert await names(clients.d1admin, "listDomainChildren", "domain") == ["sub"]
    await clients.d1admin.fails("listDomainChildren", 431, id=d2)
    assert await clients.alice.ok("listDomainChildren") == {}
    assert "id" in await clients.admin.fails("listDomainChildren", 431, id="d1")
