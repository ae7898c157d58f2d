"""Networks, network offerings and NICs: createNetwork's address checks, who sees what,
and address allocation that never hands one address to two NICs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import (
    Network,
    Nic,
    VirtualMachine,
)
from altostratus.errors import ResourceAllocationError
from altostratus.runtime import Runtime
from altostratus.services.network import networks
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld, insert_vm
from tests.support.jobs import run_job

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


async def vm_row(runtime: Runtime, world: ComputeWorld, owner: str, name: str = "vm") -> int:
    """A Stopped VM of account ``owner`` (no NIC yet); its database id."""
    return (await insert_vm(runtime, world, owner, name)).id


async def give_nic(runtime: Runtime, vm_id: int, network_uuid: str) -> str:
    """Allocate a NIC in its own transaction, as a deploy does; its address."""
    async with runtime.db.transaction() as session:
        vm = await session.get_one(VirtualMachine, vm_id)
        network = (await session.scalars(select(Network).where(Network.uuid == network_uuid))).one()
        nic = await networks.allocate_nic(session, vm, network)
        assert nic.ip_address is not None
        return nic.ip_address


async def make_network(api: ApiClient, zone_id: str, name: str, **params: Any) -> dict[str, Any]:
    offerings = await api.ok("listNetworkOfferings", name="DefaultSharedNetworkOffering")
    answer = await api.ok(
        "createNetwork",
        zoneid=zone_id,
        name=name,
        networkofferingid=offerings["networkoffering"][0]["id"],
        **{"gateway": "10.2.0.1", "netmask": "255.255.255.0", **params},
    )
    network: dict[str, Any] = answer["network"]
    return network


# --- network offerings ---


async def test_network_offerings_are_reference_data_everyone_lists(clients: Clients) -> None:
    listed = await clients.bob.ok("listNetworkOfferings")
    by_name = {offering["name"]: offering for offering in listed["networkoffering"]}
    shared = by_name["DefaultSharedNetworkOffering"]
    assert shared["guestiptype"] == "Shared"
    assert shared["traffictype"] == "Guest"
    assert shared["state"] == "Enabled"
    assert shared["specifyipranges"] is True
    # Libcloud's ex_list_network_offerings reads these keys unconditionally.
    assert shared["forvpc"] is False
    assert "serviceofferingid" in shared
    assert {s["name"] for s in shared["service"]} == {"Dhcp", "Dns", "UserData"}
    sg = by_name["DefaultSharedNetworkOfferingWithSGService"]
    assert "SecurityGroup" in {s["name"] for s in sg["service"]}
    one = await clients.bob.ok("listNetworkOfferings", id=shared["id"])
    assert one["count"] == 1


# --- createNetwork ---


async def test_create_network_answers_the_network_with_its_range(
    api: ApiClient, compute: ComputeWorld
) -> None:
    network = await make_network(
        api, compute.zone_id, "net2", startip="10.2.0.10", endip="10.2.0.20", vlan="120"
    )
    assert network["zoneid"] == compute.zone_id
    assert network["zonename"] == "zone1"
    assert network["cidr"] == "10.2.0.0/24"
    assert network["gateway"] == "10.2.0.1"
    assert network["netmask"] == "255.255.255.0"
    assert network["type"] == "Shared"
    assert network["traffictype"] == "Guest"
    assert network["acltype"] == "Domain"
    assert network["canusefordeploy"] is True
    assert network["networkofferingname"] == "DefaultSharedNetworkOffering"
    assert network["displaytext"] == "net2"
    assert network["vlan"] == "120"
    zone = (await api.ok("listZones", id=compute.zone_id))["zone"][0]
    assert network["dns1"] == zone["dns1"]
    # The zone already had its default network.
    assert network["isdefault"] is False


async def test_create_network_range_defaults_to_the_usable_addresses(
    api: ApiClient, compute: ComputeWorld, app: Starlette
) -> None:
    network = await make_network(api, compute.zone_id, "tiny", netmask="255.255.255.252")
    # 10.2.0.0/30: .1 is the gateway, so only .2 is left for guests.
    vm_id = await vm_row(app.state.runtime, compute, "alice")
    assert await give_nic(app.state.runtime, vm_id, network["id"]) == "10.2.0.2"


async def test_create_network_checks_the_addresses(
    api: ApiClient, compute: ComputeWorld, clients: Clients
) -> None:
    zone = compute.zone_id
    cases = [
        ({"startip": "10.3.0.10"}, "startip"),
        ({"startip": "10.2.0.10", "endip": "10.2.0.255"}, "endip"),
        ({"startip": "10.2.0.20", "endip": "10.2.0.10"}, "endip"),
        ({"startip": "10.2.0.1", "endip": "10.2.0.10"}, "gateway"),
        ({"gateway": "10.2.0.0"}, "gateway"),
        ({"netmask": "255.0.255.0"}, "netmask"),
        ({"gateway": "10.2.0.300"}, "gateway"),
    ]
    for params, parameter in cases:
        text = await api.fails(
            "createNetwork",
            431,
            zoneid=zone,
            name="bad",
            networkofferingid=(await api.ok("listNetworkOfferings"))["networkoffering"][0]["id"],
            **{"gateway": "10.2.0.1", "netmask": "255.255.255.0", **params},
        )
        assert parameter in text, (params, text)
    await make_network(api, zone, "net2")
    assert "name" in await api.fails(
        "createNetwork",
        431,
        zoneid=zone,
        name="net2",
        networkofferingid=(await api.ok("listNetworkOfferings"))["networkoffering"][0]["id"],
        gateway="10.4.0.1",
        netmask="255.255.255.0",
    )
    assert "zoneid" in await api.fails(
        "createNetwork",
        431,
        zoneid=UNKNOWN,
        name="x",
        networkofferingid=UNKNOWN,
        gateway="10.4.0.1",
        netmask="255.255.255.0",
    )
    await clients.d1admin.fails(
        "createNetwork", 531, zoneid=zone, name="x", networkofferingid=UNKNOWN
    )


# --- listNetworks ---


async def test_everyone_lists_the_shared_network_but_only_root_sees_its_vlan(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    await make_network(api, compute.zone_id, "net2", vlan="120")
    for client in (clients.alice, clients.bob, clients.d1admin):
        listed = await client.ok("listNetworks", zoneid=compute.zone_id)
        assert listed["count"] == 2
        assert all("vlan" not in network for network in listed["network"])
        assert listed["network"][0]["id"] == compute.network_id
    admin = await api.ok("listNetworks", keyword="net2")
    assert [(n["name"], n["vlan"]) for n in admin["network"]] == [("net2", "120")]
    default = await clients.alice.ok("listNetworks", isdefault=True)
    assert [n["id"] for n in default["network"]] == [compute.network_id]
    assert await clients.alice.ok("listNetworks", type="Isolated") == {}
    assert await clients.alice.ok("listNetworks", id=UNKNOWN) == {}


# --- deleteNetwork ---


async def test_delete_network_refuses_while_addresses_are_in_use(
    api: ApiClient, compute: ComputeWorld, app: Starlette
) -> None:
    network = await make_network(api, compute.zone_id, "net2")
    vm_id = await vm_row(app.state.runtime, compute, "alice")
    await give_nic(app.state.runtime, vm_id, network["id"])
    assert "in use" in await api.fails("deleteNetwork", 536, id=network["id"])
    async with app.state.runtime.db.transaction() as session:
        await networks.release_nics(session, vm_id)
    assert await run_job(api, "deleteNetwork", id=network["id"]) == {"success": "true"}
    assert await api.ok("listNetworks", id=network["id"]) == {}
    events = await api.ok("listEvents", type="NETWORK.DELETE")
    assert network["id"] in events["event"][0]["description"]
    assert "id" in await api.fails("deleteNetwork", 431, id=network["id"])


# --- NICs and addresses ---


async def test_concurrent_allocations_never_share_an_address(
    app: Starlette, compute: ComputeWorld
) -> None:
    runtime = app.state.runtime
    vm_ids = [await vm_row(runtime, compute, "alice", f"vm{n}") for n in range(20)]
    addresses = await asyncio.gather(
        *(give_nic(runtime, vm_id, compute.network_id) for vm_id in vm_ids)
    )
    assert len(set(addresses)) == 20
    # The lowest free addresses of the range, whatever the order they were taken in.
    assert sorted(addresses, key=lambda a: int(a.rsplit(".", 1)[1])) == [
        f"10.1.0.{n}" for n in range(10, 30)
    ]
    async with runtime.db.transaction(write=False) as session:
        macs = set(await session.scalars(select(Nic.mac_address)))
    assert len(macs) == 20
    assert all(mac.startswith("02:") for mac in macs)


async def test_an_exhausted_range_is_535_and_a_released_address_is_reused(
    api: ApiClient, app: Starlette, compute: ComputeWorld
) -> None:
    runtime = app.state.runtime
    network = await make_network(
        api, compute.zone_id, "two", startip="10.2.0.10", endip="10.2.0.11"
    )
    first, second, third = [await vm_row(runtime, compute, "alice", f"v{n}") for n in range(3)]
    assert await give_nic(runtime, first, network["id"]) == "10.2.0.10"
    assert await give_nic(runtime, second, network["id"]) == "10.2.0.11"
    with pytest.raises(ResourceAllocationError, match="No free address"):
        await give_nic(runtime, third, network["id"])
    async with runtime.db.transaction() as session:
        await networks.release_nics(session, first)
    assert await give_nic(runtime, third, network["id"]) == "10.2.0.10"


async def test_list_nics_shows_a_visible_vms_nics(
    clients: Clients, app: Starlette, compute: ComputeWorld
) -> None:
    runtime = app.state.runtime
    vm_id = await vm_row(runtime, compute, "alice")
    address = await give_nic(runtime, vm_id, compute.network_id)
    async with runtime.db.transaction(write=False) as session:
        vm_uuid = (await session.get_one(VirtualMachine, vm_id)).uuid
    listed = await clients.alice.ok("listNics", virtualmachineid=vm_uuid)
    (nic,) = listed["nic"]
    assert nic["ipaddress"] == address
    assert nic["networkid"] == compute.network_id
    assert nic["gateway"] == "10.1.0.1"
    assert nic["netmask"] == "255.255.0.0"
    assert nic["isdefault"] is True
    assert nic["macaddress"].startswith("02:")
    assert nic["virtualmachineid"] == vm_uuid
    assert nic["deviceid"] == "0"
    # Her domain admin sees it too; another domain's user does not learn it exists.
    assert (await clients.d1admin.ok("listNics", virtualmachineid=vm_uuid))["count"] == 1
    text = await clients.bob.fails("listNics", 431, virtualmachineid=vm_uuid)
    assert vm_uuid in text
    assert "virtualmachineid" in await clients.alice.fails("listNics", 431)
