"""Zones: createZone, updateZone, deleteZone and listZones, including who sees which zone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


async def make_zone(api: ApiClient, name: str = "zone1", **params: Any) -> dict[str, Any]:
    """A zone with the required parameters filled in; ``params`` adds or overrides."""
    required = {"dns1": "8.8.8.8", "internaldns1": "10.0.0.2", "networktype": "Advanced"}
    answer = await api.ok("createZone", name=name, **{**required, **params})
    zone: dict[str, Any] = answer["zone"]
    return zone


async def zone_names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listZones", **params)
    return [zone["name"] for zone in listed.get("zone", [])]


async def test_create_zone_answers_every_field_and_is_listed(
    api: ApiClient, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    zone = await make_zone(
        api,
        "eu-west",
        dns1="8.8.8.8",
        dns2="8.8.4.4",
        internaldns1="10.0.0.2",
        internaldns2="10.0.0.3",
        ip6dns1="2001:4860:4860::8888",
        ip6dns2="2001:4860:4860::8844",
        domain="cloud.example.org",
        domainid=d1,
        guestcidraddress="10.1.1.0/24",
        localstorageenabled=True,
        securitygroupenabled=True,
        allocationstate="Disabled",
        description="First zone",
        networktype="Advanced",
    )
    created = zone.pop("created")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", created)
    zone_id = zone.pop("id")
    assert zone == {
        "name": "eu-west",
        "description": "First zone",
        "dns1": "8.8.8.8",
        "dns2": "8.8.4.4",
        "internaldns1": "10.0.0.2",
        "internaldns2": "10.0.0.3",
        "ip6dns1": "2001:4860:4860::8888",
        "ip6dns2": "2001:4860:4860::8844",
        "guestcidraddress": "10.1.1.0/24",
        "networktype": "Advanced",
        "securitygroupsenabled": True,
        "allocationstate": "Disabled",
        "localstorageenabled": True,
        "domain": "cloud.example.org",
        "domainid": d1,
        "domainname": "d1",
        "dhcpprovider": "VirtualRouter",
    }
    listed = await api.ok("listZones", id=zone_id)
    assert listed["count"] == 1
    assert listed["zone"][0] == {**zone, "id": zone_id, "created": created}


async def test_create_zone_defaults_and_canonical_spellings(api: ApiClient) -> None:
    zone = await make_zone(api, "basic", networktype="basic", allocationstate="enabled")
    assert zone["networktype"] == "Basic"
    assert zone["allocationstate"] == "Enabled"
    assert zone["securitygroupsenabled"] is False
    assert zone["localstorageenabled"] is False
    assert zone["dhcpprovider"] == "VirtualRouter"
    for absent in ("dns2", "internaldns2", "ip6dns1", "guestcidraddress", "domainid", "domain"):
        assert absent not in zone


async def test_zone_names_are_unique(api: ApiClient) -> None:
    first = await make_zone(api, "zone1")
    await make_zone(api, "zone2")
    assert "already exists" in await api.fails(
        "createZone",
        431,
        name="zone1",
        dns1="8.8.8.8",
        internaldns1="10.0.0.2",
        networktype="Basic",
    )
    assert "parameter name" in await api.fails("updateZone", 431, id=first["id"], name="zone2")
    assert await zone_names(api) == ["zone1", "zone2"]
    # Renaming a zone to its own name is no clash.
    assert (await api.ok("updateZone", id=first["id"], name="zone1"))["zone"]["name"] == "zone1"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"name": None}, "name"),
        ({"dns1": None}, "dns1"),
        ({"internaldns1": None}, "internaldns1"),
        ({"networktype": None}, "networktype"),
        ({"networktype": "Hybrid"}, "networktype"),
        ({"dns1": "8.8.8"}, "dns1"),
        ({"dns2": "300.1.1.1"}, "dns2"),
        ({"internaldns1": "dns.example.org"}, "internaldns1"),
        ({"internaldns2": "10.0.0.1/24"}, "internaldns2"),
        ({"ip6dns1": "8.8.8.8"}, "ip6dns1"),
        ({"ip6dns2": "2001:db8::g"}, "ip6dns2"),
        ({"guestcidraddress": "10.1.1.0/33"}, "guestcidraddress"),
        ({"guestcidraddress": "10.1.1.5/24"}, "guestcidraddress"),
        ({"guestcidraddress": "8.8.8.0/24"}, "guestcidraddress"),
        ({"domain": "not a domain!"}, "domain"),
        ({"domainid": "not-a-uuid"}, "domainid"),
        ({"domainid": UNKNOWN}, "domainid"),
        ({"allocationstate": "Maybe"}, "allocationstate"),
        ({"localstorageenabled": "perhaps"}, "localstorageenabled"),
        ({"name": "x" * 256}, "name"),
    ],
)
async def test_create_zone_rejects_bad_input_naming_the_parameter(
    api: ApiClient, params: dict[str, Any], parameter: str
) -> None:
    base = {"name": "z", "dns1": "8.8.8.8", "internaldns1": "10.0.0.2", "networktype": "Basic"}
    text = await api.fails("createZone", 431, **{**base, **params})
    assert f"parameter {parameter}" in text
    assert await api.ok("listZones") == {}


async def test_update_zone_changes_only_what_is_given(api: ApiClient) -> None:
    zone = await make_zone(api, "zone1", dns2="8.8.4.4", description="old")
    updated = await api.ok(
        "updateZone",
        id=zone["id"],
        name="renamed",
        dns1="1.1.1.1",
        internaldns2="10.0.0.9",
        ip6dns1="2606:4700::1111",
        guestcidraddress="192.168.100.0/22",
        domain="zone.example",
        allocationstate="Disabled",
        localstorageenabled=True,
        description="new",
    )
    expected = {
        **zone,
        "name": "renamed",
        "dns1": "1.1.1.1",
        "internaldns2": "10.0.0.9",
        "ip6dns1": "2606:4700::1111",
        "guestcidraddress": "192.168.100.0/22",
        "domain": "zone.example",
        "allocationstate": "Disabled",
        "localstorageenabled": True,
        "description": "new",
    }
    assert updated["zone"] == expected
    assert (await api.ok("listZones", id=zone["id"]))["zone"] == [expected]


async def test_update_zone_rejects_bad_input_and_changes_nothing(api: ApiClient) -> None:
    zone = await make_zone(api, "zone1")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "x"}, "id"),
        ({"id": "zone1"}, "id"),
        ({"id": zone["id"], "dns1": "1.1.1"}, "dns1"),
        ({"id": zone["id"], "ip6dns2": "::zz"}, "ip6dns2"),
        ({"id": zone["id"], "guestcidraddress": "10.0.0.0"}, "guestcidraddress"),
        ({"id": zone["id"], "allocationstate": "Gone"}, "allocationstate"),
    ]
    for params, parameter in cases:
        text = await api.fails("updateZone", 431, **params)
        assert f"parameter {parameter}" in text, (params, text)
    text = await api.fails("updateZone", 431, id=UNKNOWN, name="x")
    assert f"Unable to find zone with id {UNKNOWN}" in text
    assert "parameter id" in text
    assert (await api.ok("listZones"))["zone"] == [zone]


async def test_delete_zone(api: ApiClient) -> None:
    zone = await make_zone(api, "zone1")
    await make_zone(api, "zone2")
    assert await api.ok("deleteZone", id=zone["id"]) == {"success": "true"}
    assert await zone_names(api) == ["zone2"]
    assert "Unable to find zone" in await api.fails("deleteZone", 431, id=zone["id"])
    assert "parameter id" in await api.fails("deleteZone", 431)


async def test_a_zone_with_pods_cannot_be_deleted(api: ApiClient) -> None:
    zone = await make_zone(api, "zone1")
    pod = await api.ok(
        "createPod",
        zoneid=zone["id"],
        name="pod1",
        gateway="192.168.1.1",
        netmask="255.255.255.0",
    )
    assert "pod" in await api.fails("deleteZone", 536, id=zone["id"])
    assert await zone_names(api) == ["zone1"]
    await api.ok("deletePod", id=pod["pod"]["id"])
    await api.ok("deleteZone", id=zone["id"])
    assert await api.ok("listZones") == {}


async def test_only_root_admins_change_zones(api: ApiClient, clients: Clients) -> None:
    zone = await make_zone(api, "zone1")
    for client in (clients.d1admin, clients.alice):
        await client.fails(
            "createZone",
            531,
            name="mine",
            dns1="8.8.8.8",
            internaldns1="10.0.0.2",
            networktype="Basic",
        )
        await client.fails("updateZone", 531, id=zone["id"], name="mine")
        await client.fails("deleteZone", 531, id=zone["id"])
    assert (await api.ok("listZones"))["zone"] == [zone]


async def test_who_sees_which_zone(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    domains = {
        name: identities[who].domain_id
        for name, who in (
            ("ROOT", "admin"),
            ("d1", "alice"),
            ("sub", "carol"),
            ("d2", "bob"),
        )
    }
    await make_zone(api, "public")
    await make_zone(api, "disabled", allocationstate="Disabled")
    await make_zone(api, "root-only", domainid=domains["ROOT"])
    await make_zone(api, "d1-only", domainid=domains["d1"])
    await make_zone(api, "sub-only", domainid=domains["sub"])
    d2_zone = await make_zone(api, "d2-only", domainid=domains["d2"])
    await make_zone(api, "d2-disabled", domainid=domains["d2"], allocationstate="Disabled")

    assert await zone_names(api) == [
        "public",
        "disabled",
        "root-only",
        "d1-only",
        "sub-only",
        "d2-only",
        "d2-disabled",
    ]
    assert await zone_names(clients.alice) == ["public", "root-only", "d1-only"]
    assert await zone_names(clients.carol) == ["public", "root-only", "d1-only", "sub-only"]
    assert await zone_names(clients.bob) == ["public", "root-only", "d2-only"]
    # A domain admin also sees what is dedicated inside the domains it manages.
    assert await zone_names(clients.d1admin) == ["public", "root-only", "d1-only", "sub-only"]

    assert await clients.alice.ok("listZones", id=d2_zone["id"]) == {}
    assert await zone_names(clients.bob, id=d2_zone["id"]) == ["d2-only"]


async def test_only_root_admins_see_zone_addressing(api: ApiClient, clients: Clients) -> None:
    zone = await make_zone(api, "zone1", dns2="8.8.4.4", guestcidraddress="10.1.1.0/24")
    (seen,) = (await clients.alice.ok("listZones"))["zone"]
    hidden = {"dns1", "dns2", "internaldns1", "guestcidraddress"}
    assert seen == {key: value for key, value in zone.items() if key not in hidden}
    assert (await api.ok("listZones"))["zone"] == [zone]


async def test_list_zone_filters(api: ApiClient, identities: dict[str, Identity]) -> None:
    d2 = identities["bob"].domain_id
    await make_zone(api, "basic", networktype="Basic")
    await make_zone(api, "advanced", networktype="Advanced", domainid=d2)
    await make_zone(api, "off", allocationstate="Disabled", networktype="Advanced")
    assert await zone_names(api, available=True) == ["basic", "advanced"]
    assert await zone_names(api, available=False) == ["basic", "advanced", "off"]
    assert await zone_names(api, networktype="advanced") == ["advanced", "off"]
    assert await zone_names(api, domainid=d2) == ["advanced"]
    assert await zone_names(api, name="off") == ["off"]
    assert await zone_names(api, name="of") == []
    assert "parameter domainid" in await api.fails("listZones", 431, domainid=UNKNOWN)
    assert "parameter networktype" in await api.fails("listZones", 431, networktype="Hybrid")
    assert "parameter id" in await api.fails("listZones", 431, id="nope")


async def test_list_zones_pages_and_keyword(api: ApiClient) -> None:
    for index in range(1, 6):
        await make_zone(api, f"rack-{index}", description=f"zone number {index}")
    await make_zone(api, "edge", description="far away")

    first = await api.ok("listZones", page=1, pagesize=2)
    assert first["count"] == 6
    assert [z["name"] for z in first["zone"]] == ["rack-1", "rack-2"]
    last = await api.ok("listZones", page=3, pagesize=2)
    assert [z["name"] for z in last["zone"]] == ["rack-5", "edge"]
    assert await api.ok("listZones", page=4, pagesize=2) == {}

    racks = await api.ok("listZones", keyword="RACK", page=2, pagesize=3)
    assert racks["count"] == 5
    assert [z["name"] for z in racks["zone"]] == ["rack-4", "rack-5"]
    assert await zone_names(api, keyword="far") == ["edge"]  # descriptions match too
    assert len(await zone_names(api, pagesize=-1)) == 6

    assert '"pagesize" parameter' in await api.fails("listZones", 431, page=1)
    assert '"page" parameter' in await api.fails("listZones", 431, pagesize=2)
    assert "parameter page" in await api.fails("listZones", 431, page=0, pagesize=2)


async def test_zone_changes_are_events(api: ApiClient) -> None:
    zone = await make_zone(api, "zone1")
    await api.ok("updateZone", id=zone["id"], name="zone2")
    await api.ok("deleteZone", id=zone["id"])
    events = (await api.ok("listEvents", resourceid=zone["id"]))["event"]
    assert [(e["type"], e["resourcetype"]) for e in events] == [
        ("ZONE.DELETE", "Zone"),
        ("ZONE.EDIT", "Zone"),
        ("ZONE.CREATE", "Zone"),
    ]
