"""Network offerings: what Ansible's cs_network_offering sends and reads back, the
Disabled → Enabled life of an offering, who may change them, and deletion refused
while a network uses one."""

from __future__ import annotations

from typing import Any

from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"

#: What cs_network_offering sends for its documented example (its own ``state`` too).
ANSIBLE_CREATE: dict[str, Any] = {
    "state": "present",
    "displaytext": "network offering description",
    "guestiptype": "Isolated",
    "supportedservices": "Dns,PortForwarding,Dhcp,SourceNat,UserData,Firewall,StaticNat,Vpn,Lb",
    "serviceproviderlist[0].service": "dns",
    "serviceproviderlist[0].provider": "virtualrouter",
    "serviceproviderlist[1].service": "dhcp",
    "serviceproviderlist[1].provider": "virtualrouter",
    "traffictype": "Guest",
    "egressdefaultpolicy": "false",
    "maxconnections": 300,
}


async def make_offering(api: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    wanted = {
        "displaytext": name,
        "guestiptype": "Shared",
        "traffictype": "GUEST",
        "supportedservices": "Dhcp,Dns,UserData",
        **params,
    }
    offering: dict[str, Any] = (await api.ok("createNetworkOffering", name=name, **wanted))[
        "networkoffering"
    ]
    return offering


async def names(client: ApiClient, **params: Any) -> list[str]:
    listed = await client.ok("listNetworkOfferings", **params)
    return [offering["name"] for offering in listed.get("networkoffering", [])]


async def test_create_answers_what_ansible_compares(api: ApiClient, clients: Clients) -> None:
    created = (await api.ok("createNetworkOffering", name="isolated", **ANSIBLE_CREATE))[
        "networkoffering"
    ]
    assert created["state"] == "Disabled"
    assert (created["guestiptype"], created["traffictype"]) == ("Isolated", "Guest")
    assert created["displaytext"] == "network offering description"
    assert created["maxconnections"] == 300
    assert created["egressdefaultpolicy"] is False
    assert created["availability"] == "Optional"
    assert (created["isdefault"], created["forvpc"], created["specifyvlan"]) == (
        False,
        False,
        False,
    )
    providers = {s["name"]: [p["name"] for p in s["provider"]] for s in created["service"]}
    assert providers["Dns"] == ["VirtualRouter"]
    assert providers["Dhcp"] == ["VirtualRouter"]
    assert ",".join(providers) == ANSIBLE_CREATE["supportedservices"]
    # The module's lookup finds it by name; users do not see a Disabled offering.
    listed = await api.ok("listNetworkOfferings", name="isolated")
    assert listed["networkoffering"] == [created]
    assert await names(clients.bob, name="isolated") == []


async def test_state_moves_between_enabled_and_disabled(api: ApiClient, clients: Clients) -> None:
    offering = await make_offering(api, "shared2")
    enabled = await api.ok("updateNetworkOffering", id=offering["id"], state="enabled")
    assert enabled["networkoffering"]["state"] == "Enabled"
    assert await names(clients.bob, name="shared2") == ["shared2"]
    assert await names(api, state="Disabled") == []
    text = await api.fails("updateNetworkOffering", 431, id=offering["id"], state="Inactive")
    assert "state" in text
    disabled = await api.ok(
        "updateNetworkOffering", id=offering["id"], state="Disabled", displaytext="Second"
    )
    assert (disabled["networkoffering"]["state"], disabled["networkoffering"]["displaytext"]) == (
        "Disabled",
        "Second",
    )
    assert await names(clients.bob, name="shared2") == []
    events = await api.ok("listEvents", type="NETWORK.OFFERING.EDIT")
    assert events["count"] == 2


async def test_bad_input_is_431_naming_the_parameter_and_writes_nothing(api: ApiClient) -> None:
    await make_offering(api, "taken")
    before = (await api.ok("listNetworkOfferings"))["count"]
    base = {"displaytext": "x", "guestiptype": "Shared", "traffictype": "Guest"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"supportedservices": "Dhcp,Teleport"}, "supportedservices"),
        (
            {
                "supportedservices": "Dhcp",
                "serviceproviderlist[0].service": "Dns",
                "serviceproviderlist[0].provider": "VirtualRouter",
            },
            "serviceproviderlist",
        ),
        (
            {
                "supportedservices": "Dhcp",
                "serviceproviderlist[0].service": "Dhcp",
                "serviceproviderlist[0].provider": "Wizard",
            },
            "serviceproviderlist",
        ),
        ({"traffictype": "Public"}, "traffictype"),
        ({"guestiptype": "Private"}, "guestiptype"),
        ({"availability": "Sometimes"}, "availability"),
        ({"maxconnections": 0}, "maxconnections"),
        ({"domainid": UNKNOWN}, UNKNOWN),
        ({"zoneid": UNKNOWN}, UNKNOWN),
    ]
    for params, parameter in cases:
        text = await api.fails("createNetworkOffering", 431, name="bad", **{**base, **params})
        assert parameter in text, (params, text)
    assert "name" in await api.fails("createNetworkOffering", 431, name="taken", **base)
    text = await api.fails("createNetworkOffering", 431, name="bad", displaytext="x")
    assert "guestiptype" in text or "traffictype" in text
    assert (await api.ok("listNetworkOfferings"))["count"] == before
    offering = (await api.ok("listNetworkOfferings", name="taken"))["networkoffering"][0]
    for params, parameter in (
        ({"domainid": "everyone"}, "domainid"),
        ({"zoneid": UNKNOWN}, UNKNOWN),
        ({"name": "DefaultSharedNetworkOffering"}, "name"),
        ({"id": UNKNOWN}, UNKNOWN),
    ):
        text = await api.fails("updateNetworkOffering", 431, **{"id": offering["id"], **params})
        assert parameter in text, (params, text)
    assert (await api.ok("listNetworkOfferings", name="taken"))["count"] == 1


async def test_only_root_admins_change_offerings(api: ApiClient, clients: Clients) -> None:
    offering = await make_offering(api, "guarded", enable=True)
    for client in (clients.d1admin, clients.alice):
        await client.fails(
            "createNetworkOffering",
            531,
            name="mine",
            displaytext="x",
            guestiptype="Shared",
            traffictype="Guest",
        )
        await client.fails("updateNetworkOffering", 531, id=offering["id"], state="Disabled")
        await client.fails("deleteNetworkOffering", 531, id=offering["id"])
        assert await names(client, name="guarded") == ["guarded"]


async def test_a_domain_offering_is_offered_in_its_subtree_only(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    d1 = identities["alice"].domain_id
    offering = await make_offering(api, "d1-net", enable=True, domainid=d1)
    assert offering["domainid"] == d1
    assert await names(clients.carol, name="d1-net") == ["d1-net"]
    assert await names(clients.bob, name="d1-net") == []
    public = await api.ok("updateNetworkOffering", id=offering["id"], domainid="public")
    assert "domainid" not in public["networkoffering"]
    assert await names(clients.bob, name="d1-net") == ["d1-net"]


async def test_create_network_takes_only_an_enabled_offering_of_its_zone(
    api: ApiClient, compute: ComputeWorld
) -> None:
    offering = await make_offering(api, "fresh")
    network = {"zoneid": compute.zone_id, "gateway": "10.7.0.1", "netmask": "255.255.255.0"}
    text = await api.fails(
        "createNetwork", 431, name="n1", networkofferingid=offering["id"], **network
    )
    assert "networkofferingid" in text
    assert "Disabled" in text
    await api.ok("updateNetworkOffering", id=offering["id"], state="Enabled")
    created = await api.ok("createNetwork", name="n1", networkofferingid=offering["id"], **network)
    assert created["network"]["networkofferingname"] == "fresh"
    elsewhere = await make_offering(api, "other-zone", enable=True)
    other_zone = await api.ok(
        "createZone", name="zone2", networktype="Basic", dns1="8.8.8.8", internaldns1="8.8.4.4"
    )
    await api.ok("updateNetworkOffering", id=elsewhere["id"], zoneid=other_zone["zone"]["id"])
    text = await api.fails(
        "createNetwork", 431, name="n2", networkofferingid=elsewhere["id"], **network
    )
    assert "networkofferingid" in text
    assert await names(api, zoneid=compute.zone_id, name="other-zone") == []
    assert await names(api, zoneid=other_zone["zone"]["id"], name="other-zone") == ["other-zone"]


async def test_an_offering_in_use_is_not_deleted(api: ApiClient, compute: ComputeWorld) -> None:
    offering = await make_offering(api, "busy", enable=True)
    network = await api.ok(
        "createNetwork",
        zoneid=compute.zone_id,
        name="busy-net",
        networkofferingid=offering["id"],
        gateway="10.8.0.1",
        netmask="255.255.255.0",
    )
    text = await api.fails("deleteNetworkOffering", 536, id=offering["id"])
    assert "1 network" in text
    assert await names(api, name="busy") == ["busy"]
    await run_job(api, "deleteNetwork", id=network["network"]["id"])
    assert await api.ok("deleteNetworkOffering", id=offering["id"]) == {"success": "true"}
    assert await names(api, name="busy") == []
    await api.fails("deleteNetworkOffering", 431, id=offering["id"])
    events = await api.ok("listEvents", type="NETWORK.OFFERING.DELETE")
    assert events["count"] == 1


async def test_the_shipped_default_offerings_stay(api: ApiClient) -> None:
    default = (await api.ok("listNetworkOfferings", name="DefaultSharedNetworkOffering"))[
        "networkoffering"
    ][0]
    assert default["specifyvlan"] is True
    assert {s["name"]: s["provider"][0]["name"] for s in default["service"]}["Dhcp"] == (
        "VirtualRouter"
    )
    text = await api.fails("deleteNetworkOffering", 431, id=default["id"])
    assert "default" in text


async def test_the_routers_system_offering(api: ApiClient) -> None:
    sizes = {"cpunumber": 1, "cpuspeed": 500, "memory": 256}
    router = (
        await api.ok(
            "createServiceOffering",
            name="router",
            issystem=True,
            systemvmtype="domainrouter",
            **sizes,
        )
    )["serviceoffering"]
    user_vm = (await api.ok("createServiceOffering", name="user-vm", **sizes))["serviceoffering"]
    offering = await make_offering(
        api, "routed", guestiptype="Isolated", serviceofferingid=router["id"]
    )
    assert offering["serviceofferingid"] == router["id"]
    for refused in (user_vm["id"], UNKNOWN):
        text = await api.fails(
            "createNetworkOffering",
            431,
            name="misrouted",
            guestiptype="Isolated",
            traffictype="Guest",
            serviceofferingid=refused,
        )
        assert "serviceofferingid" in text
    assert await names(api, name="misrouted") == []
