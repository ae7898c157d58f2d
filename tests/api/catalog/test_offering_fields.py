"""Offering fields and filters: storage QoS, storage tags, encryption and system
offerings as CloudStack answers them (and Ansible's offering modules read them), and
listServiceOfferings' size, zone, isrecursive and system filters."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from tests.api.catalog.test_offerings import make_offering, names
from tests.api.compute.vm_support import hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


async def make_disk_offering(api: ApiClient, name: str, **params: Any) -> dict[str, Any]:
    answer = await api.ok("createDiskOffering", name=name, **{"disksize": 10, **params})
    offering: dict[str, Any] = answer["diskoffering"]
    return offering


async def test_service_offering_answers_its_storage_qos(api: ApiClient) -> None:
    offering = await make_offering(
        api,
        "qos",
        provisioningtype="FAT",
        cachemode="writeback",
        tags="eco,backup,eco",
        encryptroot=True,
        bytesreadrate=1000,
        bytesreadratemax=2000,
        bytesreadratemaxlength=30,
        iopswriterate=100,
        hypervisorsnapshotreserve=20,
        isvolatile=True,
        networkrate=100,
    )
    assert offering["provisioningtype"] == "fat"
    assert offering["cacheMode"] == "writeback"
    # cs_service_offering reads storagetags back as the list it sent, in its order.
    assert offering["storagetags"] == "eco,backup"
    assert offering["encryptroot"] is True
    assert (offering["diskBytesReadRate"], offering["diskBytesReadRateMax"]) == (1000, 2000)
    assert offering["diskBytesReadRateMaxLength"] == 30
    assert offering["diskIopsWriteRate"] == 100
    assert "diskBytesWriteRate" not in offering
    assert offering["hypervisorsnapshotreserve"] == 20
    assert (offering["isvolatile"], offering["networkrate"]) == (True, 100)
    assert "miniops" not in offering
    listed = await api.ok("listServiceOfferings", id=offering["id"])
    assert listed["serviceoffering"] == [offering]
    plain = await make_offering(api, "plain")
    assert (plain["provisioningtype"], plain["encryptroot"]) == ("thin", False)
    assert "cacheMode" not in plain
    assert "storagetags" not in plain


async def test_managed_storage_iops_follow_cloudstack(api: ApiClient) -> None:
    fixed = await make_offering(
        api, "fixed-iops", customizediops=False, miniops=100, maxiops=500, bytesreadrate=10
    )
    assert (fixed["iscustomizediops"], fixed["miniops"], fixed["maxiops"]) == (False, 100, 500)
    # Managed storage limits IOPS itself: the hypervisor's rates are dropped.
    assert "diskBytesReadRate" not in fixed
    custom = await make_offering(api, "own-iops", customizediops=True, miniops=100, maxiops=500)
    assert custom["iscustomizediops"] is True
    assert "miniops" not in custom
    # Without customizediops an offering is not for managed storage: no IOPS range.
    hypervisor = await make_offering(api, "hv", miniops=100, maxiops=500, iopsreadrate=50)
    assert "miniops" not in hypervisor
    assert hypervisor["diskIopsReadRate"] == 50


#: Storage QoS both kinds of offering refuse, and the parameter the 431 names.
BAD_QOS: list[tuple[dict[str, Any], str]] = [
    ({"provisioningtype": "thick"}, "provisioningtype"),
    ({"cachemode": "unsafe"}, "cachemode"),
    ({"bytesreadrate": 2000, "bytesreadratemax": 1000}, "bytesreadratemax"),
    ({"iopswriterate": 20, "iopswriteratemax": 10}, "iopswriteratemax"),
    ({"byteswriterate": -1}, "byteswriterate"),
    ({"customizediops": False, "miniops": 0, "maxiops": 10}, "miniops"),
    ({"customizediops": False, "miniops": 100, "maxiops": 10}, "maxiops"),
]


async def test_bad_qos_values_are_431_naming_the_parameter(api: ApiClient) -> None:
    required = {"displaytext": "x", "cpunumber": 1, "cpuspeed": 100, "memory": 512}
    system_cases: list[tuple[dict[str, Any], str]] = [
        ({"issystem": True}, "systemvmtype"),
        ({"systemvmtype": "domainrouter"}, "systemvmtype"),
        ({"issystem": True, "systemvmtype": "mailserver"}, "systemvmtype"),
    ]
    for params, parameter in BAD_QOS + system_cases:
        text = await api.fails("createServiceOffering", 431, name="bad", **required, **params)
        assert parameter in text, (params, text)
    for params, parameter in BAD_QOS:
        text = await api.fails("createDiskOffering", 431, name="bad", disksize=1, **params)
        assert parameter in text, (params, text)
    assert await names(api, "listServiceOfferings", "serviceoffering") == []
    assert await names(api, "listServiceOfferings", "serviceoffering", issystem=True) == []
    assert await names(api, "listDiskOfferings", "diskoffering") == []


async def test_disk_offering_fields_and_display(api: ApiClient, clients: Clients) -> None:
    offering = await make_disk_offering(
        api,
        "Small",
        tags="eco,backup",
        storagetype="local",
        encrypt=True,
        provisioningtype="sparse",
        cachemode="writethrough",
        iopsreadrate=300,
        iopsreadratemax=600,
        displayoffering=False,
    )
    # cs_disk_offering reads the storage tags from ``tags``, as given.
    assert offering["tags"] == "eco,backup"
    assert (offering["encrypt"], offering["provisioningtype"]) == (True, "sparse")
    assert offering["cacheMode"] == "writethrough"
    assert (offering["diskIopsReadRate"], offering["diskIopsReadRateMax"]) == (300, 600)
    assert offering["displayoffering"] is False
    assert await names(clients.alice, "listDiskOfferings", "diskoffering") == []
    assert await names(api, "listDiskOfferings", "diskoffering") == ["Small"]
    shown = await api.ok("updateDiskOffering", id=offering["id"], displayoffering=True)
    assert shown["diskoffering"]["displayoffering"] is True
    assert await names(clients.alice, "listDiskOfferings", "diskoffering") == ["Small"]
    assert await names(clients.alice, "listDiskOfferings", "diskoffering", encrypt=False) == []
    await clients.alice.fails("updateDiskOffering", 531, id=offering["id"], displayoffering=False)


async def test_list_service_offerings_by_size(api: ApiClient) -> None:
    await make_offering(api, "small", cpunumber=1, cpuspeed=1000, memory=512)
    await make_offering(api, "medium", cpunumber=2, cpuspeed=2000, memory=2048)
    await make_offering(api, "large", cpunumber=4, cpuspeed=2000, memory=8192, encryptroot=True)

    async def listed(**params: Any) -> list[str]:
        return await names(api, "listServiceOfferings", "serviceoffering", **params)

    # CloudStack keeps the offerings that give at least what is asked.
    assert await listed(cpunumber=2) == ["medium", "large"]
    assert await listed(memory=4096) == ["large"]
    assert await listed(cpuspeed=1500) == ["medium", "large"]
    assert await listed(cpunumber=2, memory=1024, cpuspeed=2000) == ["medium", "large"]
    assert await listed(cpunumber=8) == []
    assert await listed(encryptroot=True) == ["large"]
    assert "cpunumber" in await api.fails("listServiceOfferings", 431, cpunumber=0)
    assert "memory" in await api.fails("listServiceOfferings", 431, memory="lots")


async def test_list_offerings_by_zone(api: ApiClient, compute: ComputeWorld) -> None:
    in_zone = await names(api, "listServiceOfferings", "serviceoffering", zoneid=compute.zone_id)
    assert in_zone == await names(api, "listServiceOfferings", "serviceoffering")
    assert {"small", "big", "tagged"} <= set(in_zone)
    disks = await names(api, "listDiskOfferings", "diskoffering", zoneid=compute.zone_id)
    assert disks == await names(api, "listDiskOfferings", "diskoffering")
    assert disks
    assert UNKNOWN in await api.fails("listServiceOfferings", 431, zoneid=UNKNOWN)
    assert UNKNOWN in await api.fails("listDiskOfferings", 431, zoneid=UNKNOWN)


async def test_isrecursive_widens_a_domain_admins_listing_only(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    await make_offering(api, "public")
    await make_offering(api, "sub-only", domainid=identities["carol"].domain_id)
    listing = ("listServiceOfferings", "serviceoffering")
    assert await names(clients.d1admin, *listing) == ["public"]
    assert await names(clients.d1admin, *listing, isrecursive=True) == ["public", "sub-only"]
    assert await names(clients.carol, *listing) == ["public", "sub-only"]
    assert await names(api, *listing) == ["public", "sub-only"]
    text = await clients.alice.fails("listServiceOfferings", 431, isrecursive=True)
    assert "isrecursive" in text


async def test_system_offerings_are_listed_apart_for_root_admins(
    api: ApiClient, clients: Clients
) -> None:
    await make_offering(api, "user-vm")
    router = await make_offering(
        api, "router", issystem=True, systemvmtype="DomainRouter", hosttags="net"
    )
    assert (router["issystem"], router["systemvmtype"]) == (True, "domainrouter")
    listing = ("listServiceOfferings", "serviceoffering")
    assert await names(api, *listing) == ["user-vm"]
    assert await names(api, *listing, issystem=True) == ["router"]
    assert await names(api, *listing, issystem=True, systemvmtype="domainrouter") == ["router"]
    assert await names(api, *listing, issystem=True, systemvmtype="consoleproxy") == []
    for client in (clients.d1admin, clients.alice):
        assert "issystem" in await client.fails("listServiceOfferings", 431, issystem=True)
        assert await names(client, *listing) == ["user-vm"]
    # cs_service_offering deletes a system offering by the id it listed.
    assert await api.ok("deleteServiceOffering", id=router["id"]) == {"success": "true"}
    assert await names(api, *listing, issystem=True) == []


async def test_no_user_vm_is_deployed_from_a_system_offering(
    app: Starlette, api: ApiClient, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    router = await make_offering(api, "router", issystem=True, systemvmtype="domainrouter")
    text = await clients.alice.fails(
        "deployVirtualMachine",
        431,
        zoneid=compute.zone_id,
        templateid=compute.template_id,
        serviceofferingid=router["id"],
    )
    assert "serviceofferingid" in text
