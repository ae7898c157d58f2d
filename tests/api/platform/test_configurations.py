"""Configurations: the run-time settings, their overrides per scope, and who may change them."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.api.infrastructure.test_capacity import set_host
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.world import PASSWORD, Identity

DYNAMIC = [
    "api.throttling.enabled",
    "api.throttling.interval",
    "api.throttling.max",
    "cpu.overprovisioning.factor",
    "default.page.size",
    "enable.dynamic.scale.vm",
    "incorrect.login.attempts.allowed",
    "mem.overprovisioning.factor",
    "scheduler.weigher",
    "session.timeout",
    "snapshot.max.daily",
    "snapshot.max.hourly",
    "snapshot.max.monthly",
    "snapshot.max.weekly",
]


async def _value(client: ApiClient, name: str, **scope: str) -> str:
    listed = await client.ok("listConfigurations", name=name, **scope)
    (config,) = listed["configuration"]
    return str(config["value"])


async def _accounts_listed(client: ApiClient) -> int:
    return len((await client.ok("listAccounts", listall=True)).get("account", []))


async def test_list_the_dynamic_settings(api: ApiClient) -> None:
    listed = await api.ok("listConfigurations")
    assert listed["count"] == len(DYNAMIC)
    assert [c["name"] for c in listed["configuration"]] == DYNAMIC
    page = await api.ok("listConfigurations", name="default.page.size")
    assert page["configuration"] == [
        {
            "category": "Advanced",
            "name": "default.page.size",
            "value": "500",
            "defaultvalue": "500",
            "description": "Page size of list commands.",
            "isdynamic": True,
            "scope": "global",
            "type": "Integer",
            "displaytext": "Default page size",
            "group": "Miscellaneous",
            "subgroup": "Others",
        }
    ]
    paged = await api.ok("listConfigurations", page=2, pagesize=4)
    assert (paged["count"], [c["name"] for c in paged["configuration"]]) == (
        len(DYNAMIC),
        DYNAMIC[4:8],
    )
    compute = await api.ok("listConfigurations", group="Compute", keyword="memory")
    assert [c["name"] for c in compute["configuration"]] == [
        "enable.dynamic.scale.vm",
        "mem.overprovisioning.factor",
    ]
    assert (await api.ok("listConfigurations", category="Nothing")) == {}
    groups = (await api.ok("listConfigurationGroups"))["configurationgroup"]
    assert [(g["name"], [s["name"] for s in g["subgroup"]]) for g in groups] == [
        ("Access", ["API", "Account", "Session"]),
        ("Compute", ["Allocator", "Capacity", "Scaling"]),
        ("Miscellaneous", ["Others"]),
        ("Storage", ["Snapshot"]),
    ]


async def test_a_global_change_applies_to_the_next_request_and_reset_undoes_it(
    api: ApiClient,
) -> None:
    everyone = await _accounts_listed(api)
    assert everyone > 2
    changed = await api.ok("updateConfiguration", name="default.page.size", value="2")
    assert (changed["configuration"]["value"], changed["configuration"]["defaultvalue"]) == (
        "2",
        "500",
    )
    listed = await api.ok("listAccounts", listall=True)
    assert (len(listed["account"]), listed["count"]) == (2, everyone)
    reset = await api.ok("resetConfiguration", name="default.page.size")
    assert reset["configuration"]["value"] == "500"
    assert await _accounts_listed(api) == everyone


async def test_the_narrowest_scope_wins(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    alice = identities["alice"].account_id
    await api.ok("updateConfiguration", name="default.page.size", value="3")
    await api.ok("updateConfiguration", name="default.page.size", value="2", domainid=d1)
    await api.ok("updateConfiguration", name="default.page.size", value="1", accountid=alice)
    assert await _value(api, "default.page.size") == "3"
    assert await _value(api, "default.page.size", domainid=d1) == "2"
    assert await _value(api, "default.page.size", accountid=alice) == "1"
    assert await _value(api, "default.page.size", accountid=identities["carol"].account_id) == "3"
    scoped = await api.ok("listConfigurations", accountid=alice)
    assert [(c["name"], c["scope"]) for c in scoped["configuration"]] == [
        ("default.page.size", "account")
    ]
    # Each caller's requests read the value of its own account and domain.
    assert len((await clients.d1admin.ok("listAccounts", listall=True))["account"]) == 2
    os_types = await clients.alice.ok("listOsTypes")
    assert (len(os_types["ostype"]), os_types["count"] > 1) == (1, True)
    await api.ok("resetConfiguration", name="default.page.size", accountid=alice)
    assert await _value(api, "default.page.size", accountid=alice) == "2"


async def test_login_reads_the_configured_values(api: ApiClient, http: httpx.AsyncClient) -> None:
    await api.ok("updateConfiguration", name="session.timeout", value="600")
    await api.ok("updateConfiguration", name="incorrect.login.attempts.allowed", value="1")

    async def login(password: str) -> httpx.Response:
        return await http.post(
            "/client/api",
            params={
                "command": "login",
                "response": "json",
                "username": "bob",
                "password": password,
                "domain": "/d2",
            },
        )

    answer = (await login(PASSWORD)).json()["loginresponse"]
    assert answer["timeout"] == "600"
    assert (await login("wrong")).status_code == 531
    # One failure was enough: bob is locked.
    assert (await login(PASSWORD)).status_code == 531


async def test_bad_values_are_431_naming_the_parameter_and_change_nothing(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    for name, value in (
        ("default.page.size", "many"),
        ("default.page.size", "0"),
        ("cpu.overprovisioning.factor", "0.5"),
        ("scheduler.weigher", "random"),
        ("session.timeout", "10"),
    ):
        text = await api.fails("updateConfiguration", 431, name=name, value=value)
        assert f"Invalid parameter value value={value}" in text
    assert "name" in await api.fails("updateConfiguration", 431, name="no.such.thing", value="1")
    # Known settings that need a restart are not configurations.
    await api.fails("updateConfiguration", 431, name="database.url", value="x")
    await api.fails("updateConfiguration", 431, name="default.page.size")
    zone = "a0b1c2d3-0000-4000-8000-000000000000"
    text = await api.fails(
        "updateConfiguration", 431, name="default.page.size", value="2", zoneid=zone
    )
    assert "zoneid" in text
    text = await api.fails(
        "updateConfiguration",
        431,
        name="session.timeout",
        value="600",
        accountid=identities["alice"].account_id,
    )
    assert "account" in text
    await api.fails(
        "updateConfiguration",
        431,
        name="default.page.size",
        value="2",
        accountid=identities["alice"].account_id,
        domainid=identities["alice"].domain_id,
    )
    await api.fails("resetConfiguration", 431, name="no.such.thing")
    listed = (await api.ok("listConfigurations"))["configuration"]
    assert all(c["value"] == c["defaultvalue"] for c in listed)


async def test_permissions_of_the_three_roles(
    clients: Clients, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    d2 = identities["bob"].domain_id
    for command, params in (
        ("listConfigurations", {}),
        ("updateConfiguration", {"name": "default.page.size", "value": "2", "domainid": d1}),
        (
            "resetConfiguration",
            {"name": "default.page.size", "accountid": identities["alice"].account_id},
        ),
        ("listConfigurationGroups", {}),
    ):
        await clients.alice.fails(command, 531, **params)
    # A domain admin configures the domains and accounts it administers, nothing else.
    await clients.d1admin.fails("listConfigurations", 531)
    await clients.d1admin.fails("updateConfiguration", 531, name="default.page.size", value="2")
    # Domains and accounts out of its reach are unknown to it, as in the other commands.
    await clients.d1admin.fails(
        "updateConfiguration", 431, name="default.page.size", value="2", domainid=d2
    )
    await clients.d1admin.fails(
        "updateConfiguration",
        431,
        name="default.page.size",
        value="2",
        accountid=identities["bob"].account_id,
    )
    await clients.d1admin.ok(
        "updateConfiguration", name="default.page.size", value="4", domainid=d1
    )
    assert await _value(clients.d1admin, "default.page.size", domainid=d1) == "4"
    carol = identities["carol"].account_id
    await clients.d1admin.ok(
        "updateConfiguration", name="default.page.size", value="5", accountid=carol
    )
    await clients.d1admin.ok("resetConfiguration", name="default.page.size", accountid=carol)
    assert await _value(clients.d1admin, "default.page.size", accountid=carol) == "500"


async def test_a_clusters_overcommit_ratio_counts_for_its_hosts_only(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    for host in compute.host_ids:
        await set_host(app, host, state="Up")

    async def cpu_total(**scope: str) -> int:
        listed = await api.ok("listCapacity", type=1, **scope)
        return int(listed["capacity"][0]["capacitytotal"])

    assert await cpu_total() == 16000
    name = "cpu.overprovisioning.factor"
    # Answered as written (Ansible's cs_configuration compares the text it set).
    scoped = await api.ok("updateConfiguration", name=name, value="2", clusterid=compute.cluster_id)
    assert (scoped["configuration"]["value"], scoped["configuration"]["scope"]) == (
        "2",
        "cluster",
    )
    assert await cpu_total() == 32000
    assert await _value(api, name) == "1.0"
    assert await _value(api, name, clusterid=compute.cluster_id) == "2"
    assert "zone" in await api.fails(
        "updateConfiguration", 431, name=name, value="2", zoneid=compute.zone_id
    )
    await api.ok("resetConfiguration", name=name, clusterid=compute.cluster_id)
    assert await cpu_total() == 16000
