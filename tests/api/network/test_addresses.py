"""Public addresses: associateIpAddress takes the lowest free address of a shared network for
an account, listPublicIpAddresses shows each caller its own, disassociateIpAddress gives it
back; the forwarding rule listings are empty but check their filters."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.network.test_networks import UNKNOWN, make_network
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job
from tests.support.world import Identity


async def associate(client: ApiClient, **params: Any) -> dict[str, Any]:
    result = await run_job(client, "associateIpAddress", **params)
    address: dict[str, Any] = result["ipaddress"]
    return address


async def test_associate_takes_the_lowest_free_address_for_the_caller(
    clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    answer = await clients.alice.ok("associateIpAddress", zoneid=compute.zone_id)
    assert set(answer) == {"jobid", "id"}
    result = await run_job(clients.alice, "queryAsyncJobResult", jobid=answer["jobid"])
    address = result["ipaddress"]
    assert address["id"] == answer["id"]
    assert address["ipaddress"] == "10.1.0.10"
    assert address["state"] == "Allocated"
    assert address["zoneid"] == compute.zone_id
    assert address["zonename"] == "zone1"
    assert address["associatednetworkid"] == compute.network_id
    assert address["account"] == "alice"
    assert address["domainid"] == alice.domain_id
    assert address["issourcenat"] is False
    assert address["isstaticnat"] is False
    assert address["tags"] == []
    assert "virtualmachineid" not in address
    second = await associate(clients.alice, networkid=compute.network_id)
    assert second["ipaddress"] == "10.1.0.11"
    listed = await clients.alice.ok("listPublicIpAddresses")
    assert listed["count"] == 2
    assert [a["ipaddress"] for a in listed["publicipaddress"]] == ["10.1.0.10", "10.1.0.11"]
    assert await clients.alice.ok("listPublicIpAddresses", forvirtualnetwork=True) == {}
    one = await clients.alice.ok("listPublicIpAddresses", ipaddress="10.1.0.11")
    assert [a["id"] for a in one["publicipaddress"]] == [second["id"]]
    events = await clients.alice.ok("listEvents", type="NET.IPASSIGN")
    assert events["count"] == 2


async def test_associate_checks_where_the_address_comes_from(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    assert "zoneid or networkid" in await clients.alice.fails("associateIpAddress", 431)
    assert "zoneid" in await clients.alice.fails("associateIpAddress", 431, zoneid=UNKNOWN)
    assert "networkid" in await clients.alice.fails("associateIpAddress", 431, networkid=UNKNOWN)
    other_zone = (
        await api.ok(
            "createZone",
            name="zone2",
            dns1="8.8.8.8",
            internaldns1="10.0.0.2",
            networktype="Advanced",
        )
    )["zone"]
    await clients.alice.fails("associateIpAddress", 534, zoneid=other_zone["id"])
    text = await clients.alice.fails(
        "associateIpAddress", 431, zoneid=other_zone["id"], networkid=compute.network_id
    )
    assert "networkid" in text


async def test_admins_associate_for_accounts_they_manage(
    clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice, bob = identities["alice"], identities["bob"]
    address = await associate(
        clients.d1admin, zoneid=compute.zone_id, account="alice", domainid=alice.domain_id
    )
    assert address["account"] == "alice"
    assert (await clients.alice.ok("listPublicIpAddresses"))["count"] == 1
    await clients.d1admin.fails(
        "associateIpAddress", 431, zoneid=compute.zone_id, account="bob", domainid=bob.domain_id
    )
    await clients.alice.fails(
        "associateIpAddress", 431, zoneid=compute.zone_id, account="bob", domainid=bob.domain_id
    )


async def test_each_caller_lists_and_releases_only_its_own_addresses(
    clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    address = await associate(clients.alice, zoneid=compute.zone_id)
    assert await clients.bob.ok("listPublicIpAddresses") == {}
    assert await clients.bob.ok("listPublicIpAddresses", id=address["id"]) == {}
    assert address["id"] in await clients.bob.fails("disassociateIpAddress", 431, id=address["id"])
    # Her domain admin lists it with listall, or by naming her account.
    assert await clients.d1admin.ok("listPublicIpAddresses") == {}
    wide = await clients.d1admin.ok("listPublicIpAddresses", listall=True)
    assert [a["id"] for a in wide["publicipaddress"]] == [address["id"]]
    named = await clients.d1admin.ok(
        "listPublicIpAddresses", account="alice", domainid=identities["alice"].domain_id
    )
    assert named["count"] == 1
    assert await run_job(clients.alice, "disassociateIpAddress", id=address["id"]) == {
        "success": "true"
    }
    assert await clients.alice.ok("listPublicIpAddresses") == {}
    assert "id" in await clients.alice.fails("disassociateIpAddress", 431, id=address["id"])
    # The address is free again: the next one taken is the same.
    again = await associate(clients.alice, zoneid=compute.zone_id)
    assert again["ipaddress"] == address["ipaddress"]


async def test_concurrent_associations_never_share_an_address(
    clients: Clients, compute: ComputeWorld
) -> None:
    callers = [clients.alice, clients.bob, clients.carol, clients.d1admin] * 5
    taken = await asyncio.gather(*(associate(client, zoneid=compute.zone_id) for client in callers))
    addresses = [address["ipaddress"] for address in taken]
    assert len(set(addresses)) == len(callers)
    assert set(addresses) == {f"10.1.0.{n}" for n in range(10, 10 + len(callers))}


async def test_an_exhausted_range_is_535(
    api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    network = await make_network(
        api, compute.zone_id, "one", startip="10.2.0.10", endip="10.2.0.10"
    )
    await associate(clients.alice, networkid=network["id"])
    text = await clients.bob.fails("associateIpAddress", 535, networkid=network["id"])
    assert "No free address" in text


async def test_the_public_ip_limit_is_532(
    api: ApiClient, clients: Clients, compute: ComputeWorld, identities: dict[str, Identity]
) -> None:
    alice = identities["alice"]
    await api.ok(
        "updateResourceLimit", resourcetype=1, max=1, account="alice", domainid=alice.domain_id
    )
    await associate(clients.alice, zoneid=compute.zone_id)
    await clients.alice.fails("associateIpAddress", 532, zoneid=compute.zone_id)
    assert (await clients.alice.ok("listPublicIpAddresses"))["count"] == 1


async def test_forwarding_rule_listings_are_empty_and_check_their_filters(
    clients: Clients, compute: ComputeWorld
) -> None:
    address = await associate(clients.alice, zoneid=compute.zone_id)
    for command in ("listPortForwardingRules", "listIpForwardingRules"):
        assert await clients.alice.ok(command) == {}
        assert await clients.alice.ok(command, ipaddressid=address["id"]) == {}
        assert await clients.alice.ok(command, networkid=compute.network_id) == {}
        assert "ipaddressid" in await clients.bob.fails(command, 431, ipaddressid=address["id"])
        assert "ipaddressid" in await clients.alice.fails(command, 431, ipaddressid=UNKNOWN)
        assert "networkid" in await clients.alice.fails(command, 431, networkid=UNKNOWN)
        assert "ipaddressid" in await clients.alice.fails(command, 431, ipaddressid="nope")
