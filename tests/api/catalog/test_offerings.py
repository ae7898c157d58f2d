"""Service and disk offerings and OS types: who creates, who sees which, what clients read."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.world import Identity

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"


async def make_offering(api: ApiClient, name: str = "medium", **params: Any) -> dict[str, Any]:
    required = {"displaytext": name.title(), "cpunumber": 2, "cpuspeed": 1000, "memory": 2048}
    answer = await api.ok("createServiceOffering", name=name, **{**required, **params})
    offering: dict[str, Any] = answer["serviceoffering"]
    return offering


async def names(client: ApiClient, command: str, key: str, **params: Any) -> list[str]:
    listed = await client.ok(command, **params)
    return [item["name"] for item in listed.get(key, [])]


async def test_create_service_offering_answers_what_libcloud_reads(api: ApiClient) -> None:
    offering = await make_offering(
        api, hosttags="SSD,gpu,ssd", offerha=True, storagetype="local", limitcpuuse=True
    )
    assert offering["name"] == "medium"
    assert (offering["cpunumber"], offering["cpuspeed"], offering["memory"]) == (2, 1000, 2048)
    assert offering["hosttags"] == "gpu,ssd"
    assert offering["offerha"] is True
    assert offering["storagetype"] == "local"
    assert offering["limitcpuuse"] is True
    assert offering["iscustomized"] is False
    assert offering["issystem"] is False
    assert "domainid" not in offering
    listed = await api.ok("listServiceOfferings", id=offering["id"])
    assert listed["count"] == 1
    assert listed["serviceoffering"][0] == offering


async def test_create_service_offering_rejects_bad_input(api: ApiClient) -> None:
    text = await api.fails(
        "createServiceOffering", 431, name="x", displaytext="x", cpunumber=0, cpuspeed=1, memory=512
    )
    assert "cpunumber" in text
    text = await api.fails(
        "createServiceOffering", 431, name="x", displaytext="x", cpunumber=1, cpuspeed=1
    )
    assert "memory" in text
    text = await api.fails(
        "createServiceOffering",
        431,
        name="x",
        displaytext="x",
        cpunumber=1,
        cpuspeed=100,
        memory=512,
        storagetype="tape",
    )
    assert "storagetype" in text
    text = await api.fails(
        "createServiceOffering",
        431,
        name="x",
        displaytext="x",
        cpunumber=1,
        cpuspeed=100,
        memory=512,
        domainid=UNKNOWN,
    )
    assert UNKNOWN in text


async def test_only_root_admins_manage_offerings(api: ApiClient, clients: Clients) -> None:
    offering = await make_offering(api)
    for client in (clients.d1admin, clients.alice):
        await client.fails(
            "createServiceOffering",
            531,
            name="x",
            displaytext="x",
            cpunumber=1,
            cpuspeed=1,
            memory=512,
        )
        await client.fails("deleteServiceOffering", 531, id=offering["id"])
        await client.fails("createDiskOffering", 531, name="x", displaytext="x", disksize=1)


async def test_domain_offerings_are_seen_in_their_subtree_only(
    api: ApiClient, clients: Clients, identities: dict[str, Identity]
) -> None:
    await make_offering(api, "public")
    await make_offering(api, "d1-only", domainid=identities["alice"].domain_id)
    d1 = ["public", "d1-only"]
    assert await names(clients.alice, "listServiceOfferings", "serviceoffering") == d1
    assert await names(clients.carol, "listServiceOfferings", "serviceoffering") == d1
    assert await names(clients.d1admin, "listServiceOfferings", "serviceoffering") == d1
    assert await names(clients.bob, "listServiceOfferings", "serviceoffering") == ["public"]
    assert await names(api, "listServiceOfferings", "serviceoffering") == d1
    d1_id = identities["alice"].domain_id
    listed = await names(api, "listServiceOfferings", "serviceoffering", domainid=d1_id)
    assert listed == ["d1-only"]


async def test_update_and_delete_service_offering(api: ApiClient, clients: Clients) -> None:
    offering = await make_offering(api)
    updated = await api.ok(
        "updateServiceOffering", id=offering["id"], name="renamed", displaytext="Renamed"
    )
    assert updated["serviceoffering"]["name"] == "renamed"
    assert updated["serviceoffering"]["cpunumber"] == 2
    assert (await api.ok("deleteServiceOffering", id=offering["id"])) == {"success": "true"}
    assert await names(clients.alice, "listServiceOfferings", "serviceoffering") == []
    await api.fails("deleteServiceOffering", 431, id=offering["id"])
    await api.fails("updateServiceOffering", 431, id=offering["id"], name="again")
    events = await api.ok("listEvents", type="SERVICE.OFFERING.DELETE")
    assert events["count"] == 1


async def test_list_service_offerings_keyword_and_paging(api: ApiClient) -> None:
    for name in ("small", "medium", "large"):
        await make_offering(api, name)
    assert await names(api, "listServiceOfferings", "serviceoffering", keyword="MED") == ["medium"]
    page = await api.ok("listServiceOfferings", page=2, pagesize=2)
    assert page["count"] == 3
    assert [o["name"] for o in page["serviceoffering"]] == ["large"]
    assert await names(api, "listServiceOfferings", "serviceoffering", issystem=True) == []
    await api.fails("listServiceOfferings", 431, page=1)


async def test_disk_offerings_fixed_and_custom(api: ApiClient, clients: Clients) -> None:
    fixed = (
        await api.ok(
            "createDiskOffering", name="10GB", displaytext="10 GB", disksize=10, tags="Fast"
        )
    )["diskoffering"]
    assert (fixed["disksize"], fixed["iscustomized"], fixed["tags"]) == (10, False, "fast")
    custom = (await api.ok("createDiskOffering", name="any", displaytext="Any", customized=True))[
        "diskoffering"
    ]
    assert (custom["disksize"], custom["iscustomized"]) == (0, True)
    listed = await clients.alice.ok("listDiskOfferings")
    assert [o["name"] for o in listed["diskoffering"]] == ["10GB", "any"]
    updated = await api.ok("updateDiskOffering", id=fixed["id"], displaytext="Ten")
    assert updated["diskoffering"]["displaytext"] == "Ten"
    await api.ok("deleteDiskOffering", id=fixed["id"])
    listed = await clients.alice.ok("listDiskOfferings")
    assert [o["name"] for o in listed["diskoffering"]] == ["any"]


async def test_disk_offering_needs_exactly_one_of_size_or_customized(api: ApiClient) -> None:
    text = await api.fails("createDiskOffering", 431, name="x", displaytext="x")
    assert "disksize" in text
    text = await api.fails(
        "createDiskOffering", 431, name="x", displaytext="x", disksize=5, customized=True
    )
    assert "disksize" in text
    await api.fails("createDiskOffering", 431, name="x", displaytext="x", disksize=0)


async def test_os_types_and_categories(clients: Clients) -> None:
    listed = await clients.bob.ok("listOsTypes")
    assert listed["count"] >= 25
    by_name = {t["description"]: t for t in listed["ostype"]}
    ubuntu = by_name["Ubuntu 22.04 LTS"]
    assert ubuntu["oscategoryname"] == "Ubuntu"
    categories = await clients.bob.ok("listOsCategories")
    assert {c["name"] for c in categories["oscategory"]} == {
        "CentOS",
        "Debian",
        "Ubuntu",
        "Red Hat",
        "Windows",
        "Other",
    }
    in_ubuntu = await clients.bob.ok("listOsTypes", oscategoryid=ubuntu["oscategoryid"])
    assert {t["oscategoryname"] for t in in_ubuntu["ostype"]} == {"Ubuntu"}
    assert in_ubuntu["count"] == 4
    one = await clients.bob.ok("listOsTypes", id=ubuntu["id"])
    assert one["ostype"] == [ubuntu]
    windows = await clients.bob.ok("listOsTypes", keyword="windows server")
    assert windows["count"] == 3
    await clients.bob.fails("listOsTypes", 431, oscategoryid=UNKNOWN)
    await clients.bob.fails("listOsTypes", 431, id="not-a-uuid")


async def test_list_the_offering_of_a_vm(
    app: Starlette, clients: Clients, compute: ComputeWorld
) -> None:
    await hosts_up(app, compute)
    vm = await deploy(clients.alice, compute, startvm=False)
    listed = await clients.alice.ok("listServiceOfferings", virtualmachineid=vm["id"])
    assert [o["id"] for o in listed["serviceoffering"]] == [compute.small_offering_id]
    text = await clients.bob.fails("listServiceOfferings", 431, virtualmachineid=vm["id"])
    assert "virtualmachineid" in text
