"""Pods: createPod, updatePod, deletePod and listPods, with CloudStack's address checks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.infrastructure.test_zones import UNKNOWN, make_zone
from tests.conftest import Clients
from tests.support.client import ApiClient


async def make_pod(
    api: ApiClient, zone_id: str, name: str = "pod1", third_octet: int = 1, **params: Any
) -> dict[str, Any]:
    """A pod on 192.168.<third_octet>.0/24 with gateway .1; ``params`` adds or overrides."""
    answer = await api.ok(
        "createPod",
        zoneid=zone_id,
        name=name,
        gateway=f"192.168.{third_octet}.1",
        netmask="255.255.255.0",
        **params,
    )
    pod: dict[str, Any] = answer["pod"]
    return pod


async def pod_names(api: ApiClient, **params: Any) -> list[str]:
    listed = await api.ok("listPods", **params)
    return [pod["name"] for pod in listed.get("pod", [])]


@pytest.fixture
async def zone(api: ApiClient) -> dict[str, Any]:
    return await make_zone(api, "zone1")


async def test_create_pod_answers_every_field_and_is_listed(
    api: ApiClient, zone: dict[str, Any]
) -> None:
    pod = await make_pod(
        api,
        zone["id"],
        "rack-a",
        startip="192.168.1.10",
        endip="192.168.1.100",
        allocationstate="disabled",
    )
    pod_id = pod.pop("id")
    assert pod == {
        "name": "rack-a",
        "zoneid": zone["id"],
        "zonename": "zone1",
        "gateway": "192.168.1.1",
        "netmask": "255.255.255.0",
        "startip": "192.168.1.10",
        "endip": "192.168.1.100",
        "allocationstate": "Disabled",
    }
    listed = await api.ok("listPods", id=pod_id)
    assert listed == {"count": 1, "pod": [{**pod, "id": pod_id}]}


async def test_pod_range_is_optional_and_endip_defaults_to_the_subnet_end(
    api: ApiClient, zone: dict[str, Any]
) -> None:
    bare = await make_pod(api, zone["id"], "bare")
    assert "startip" not in bare
    assert "endip" not in bare
    assert bare["allocationstate"] == "Enabled"
    open_ended = await api.ok(
        "createPod",
        zoneid=zone["id"],
        name="open",
        gateway="10.20.0.1",
        netmask="255.255.252.0",
        startip="10.20.1.0",
    )
    assert (open_ended["pod"]["startip"], open_ended["pod"]["endip"]) == (
        "10.20.1.0",
        "10.20.3.254",
    )


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"zoneid": None}, "zoneid"),
        ({"zoneid": "zone1"}, "zoneid"),
        ({"zoneid": UNKNOWN}, "zoneid"),
        ({"name": None}, "name"),
        ({"gateway": None}, "gateway"),
        ({"netmask": None}, "netmask"),
        ({"gateway": "192.168.1"}, "gateway"),
        ({"netmask": "255.0.255.0"}, "netmask"),
        ({"netmask": "24"}, "netmask"),
        ({"startip": "192.168.1.300"}, "startip"),
        ({"endip": "fe80::1", "startip": "192.168.1.10"}, "endip"),
        ({"allocationstate": "Sometimes"}, "allocationstate"),
        # Addresses that parse but do not fit together:
        ({"startip": "192.168.2.10"}, "startip"),
        ({"startip": "192.168.1.10", "endip": "192.168.2.10"}, "endip"),
        ({"startip": "192.168.1.100", "endip": "192.168.1.10"}, "endip"),
        ({"startip": "192.168.1.0", "endip": "192.168.1.10"}, "startip"),
        ({"startip": "192.168.1.2", "endip": "192.168.1.255"}, "endip"),
        ({"endip": "192.168.1.10"}, "startip"),
        ({"gateway": "192.168.1.5", "startip": "192.168.1.2", "endip": "192.168.1.9"}, "gateway"),
        ({"gateway": "192.168.1.0"}, "gateway"),
        ({"gateway": "192.168.1.255"}, "gateway"),
        ({"netmask": "255.255.255.255"}, "gateway"),
    ],
)
async def test_create_pod_rejects_bad_input_naming_the_parameter(
    api: ApiClient, zone: dict[str, Any], params: dict[str, Any], parameter: str
) -> None:
    base = {
        "zoneid": zone["id"],
        "name": "pod1",
        "gateway": "192.168.1.1",
        "netmask": "255.255.255.0",
    }
    text = await api.fails("createPod", 431, **{**base, **params})
    assert f"parameter {parameter}" in text
    assert await api.ok("listPods") == {}


async def test_pod_names_are_unique_within_a_zone(api: ApiClient, zone: dict[str, Any]) -> None:
    other_zone = await make_zone(api, "zone2")
    first = await make_pod(api, zone["id"], "pod1", third_octet=1)
    await make_pod(api, zone["id"], "pod2", third_octet=2)
    await make_pod(api, other_zone["id"], "pod1", third_octet=3)
    text = await api.fails(
        "createPod",
        431,
        zoneid=zone["id"],
        name="pod1",
        gateway="192.168.9.1",
        netmask="255.255.255.0",
    )
    assert "already exists" in text
    assert "parameter name" in await api.fails("updatePod", 431, id=first["id"], name="pod2")
    assert await pod_names(api, zoneid=zone["id"]) == ["pod1", "pod2"]


async def test_pod_subnets_of_a_zone_must_not_overlap(api: ApiClient, zone: dict[str, Any]) -> None:
    await make_pod(api, zone["id"], "pod1", third_octet=1)
    text = await api.fails(
        "createPod",
        431,
        zoneid=zone["id"],
        name="pod2",
        gateway="192.168.0.1",
        netmask="255.255.0.0",
    )
    assert "overlaps" in text
    assert "parameter gateway/netmask" in text
    # The same subnet in another zone is a different network.
    other_zone = await make_zone(api, "zone2")
    await make_pod(api, other_zone["id"], "pod2", third_octet=1)
    assert await pod_names(api) == ["pod1", "pod2"]


async def test_update_pod(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = await make_pod(api, zone["id"], startip="192.168.1.10", endip="192.168.1.20")
    updated = await api.ok(
        "updatePod",
        id=pod["id"],
        name="renamed",
        endip="192.168.1.50",
        allocationstate="Disabled",
    )
    expected = {**pod, "name": "renamed", "endip": "192.168.1.50", "allocationstate": "Disabled"}
    assert updated["pod"] == expected
    moved = await api.ok(
        "updatePod",
        id=pod["id"],
        gateway="10.0.0.1",
        netmask="255.255.255.0",
        startip="10.0.0.100",
        endip="10.0.0.200",
    )
    expected = {
        **expected,
        "gateway": "10.0.0.1",
        "startip": "10.0.0.100",
        "endip": "10.0.0.200",
    }
    assert moved["pod"] == expected
    assert (await api.ok("listPods"))["pod"] == [expected]


async def test_update_pod_checks_the_resulting_addressing(
    api: ApiClient, zone: dict[str, Any]
) -> None:
    pod = await make_pod(api, zone["id"], startip="192.168.1.100", endip="192.168.1.200")
    neighbour = await make_pod(api, zone["id"], "pod2", third_octet=2)
    cases: list[tuple[dict[str, Any], str]] = [
        # A narrower netmask leaves the stored range outside the subnet.
        ({"netmask": "255.255.255.192"}, "startip"),
        ({"startip": "192.168.1.250"}, "endip"),
        ({"gateway": "192.168.1.150"}, "gateway"),
        ({"netmask": "255.255.252.0"}, "gateway/netmask"),  # would swallow pod2's subnet
        ({"endip": "192.168.1.256"}, "endip"),
        ({"allocationstate": "Off"}, "allocationstate"),
    ]
    for params, parameter in cases:
        text = await api.fails("updatePod", 431, id=pod["id"], **params)
        assert f"parameter {parameter}" in text, (params, text)
    text = await api.fails("updatePod", 431, id=UNKNOWN, name="x")
    assert f"Unable to find pod with id {UNKNOWN}" in text
    assert "parameter id" in text
    assert "parameter id" in await api.fails("updatePod", 431, name="x")
    assert (await api.ok("listPods"))["pod"] == [pod, neighbour]


async def test_delete_pod(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = await make_pod(api, zone["id"], "pod1", third_octet=1)
    await make_pod(api, zone["id"], "pod2", third_octet=2)
    assert await api.ok("deletePod", id=pod["id"]) == {"success": "true"}
    assert await pod_names(api) == ["pod2"]
    assert "Unable to find pod" in await api.fails("deletePod", 431, id=pod["id"])
    # Its subnet and name are free again.
    await make_pod(api, zone["id"], "pod1", third_octet=1)


async def test_a_pod_with_clusters_cannot_be_deleted(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = await make_pod(api, zone["id"])
    added = await api.ok(
        "addCluster",
        zoneid=zone["id"],
        podid=pod["id"],
        clustername="c1",
        clustertype="CloudManaged",
        hypervisor="KVM",
    )
    assert "cluster" in await api.fails("deletePod", 536, id=pod["id"])
    assert await pod_names(api) == ["pod1"]
    await api.ok("deleteCluster", id=added["cluster"][0]["id"])
    await api.ok("deletePod", id=pod["id"])
    assert await api.ok("listPods") == {}


async def test_only_root_admins_manage_or_list_pods(
    api: ApiClient, clients: Clients, zone: dict[str, Any]
) -> None:
    pod = await make_pod(api, zone["id"])
    for client in (clients.d1admin, clients.alice):
        await client.fails(
            "createPod",
            531,
            zoneid=zone["id"],
            name="mine",
            gateway="10.9.0.1",
            netmask="255.255.255.0",
        )
        await client.fails("updatePod", 531, id=pod["id"], name="mine")
        await client.fails("deletePod", 531, id=pod["id"])
        await client.fails("listPods", 531)
    assert (await api.ok("listPods"))["pod"] == [pod]


async def test_list_pods_filters_and_pages(api: ApiClient, zone: dict[str, Any]) -> None:
    other_zone = await make_zone(api, "zone2")
    for index in range(1, 4):
        await make_pod(api, zone["id"], f"rack-{index}", third_octet=index)
    await make_pod(api, other_zone["id"], "edge", third_octet=9, allocationstate="Disabled")

    assert await pod_names(api, zoneid=other_zone["id"]) == ["edge"]
    assert await pod_names(api, allocationstate="Enabled") == ["rack-1", "rack-2", "rack-3"]
    assert await pod_names(api, name="rack-2") == ["rack-2"]
    assert await pod_names(api, keyword="RACK", zoneid=zone["id"]) == [
        "rack-1",
        "rack-2",
        "rack-3",
    ]
    page = await api.ok("listPods", page=2, pagesize=3)
    assert page["count"] == 4
    assert [p["name"] for p in page["pod"]] == ["edge"]
    assert "parameter zoneid" in await api.fails("listPods", 431, zoneid=UNKNOWN)
    assert '"pagesize" parameter' in await api.fails("listPods", 431, page=1)


async def test_pod_changes_are_events(api: ApiClient, zone: dict[str, Any]) -> None:
    pod = await make_pod(api, zone["id"])
    await api.ok("updatePod", id=pod["id"], name="pod2")
    await api.ok("deletePod", id=pod["id"])
    events = (await api.ok("listEvents", resourceid=pod["id"]))["event"]
    assert [(e["type"], e["resourcetype"]) for e in events] == [
        ("POD.DELETE", "Pod"),
        ("POD.EDIT", "Pod"),
        ("POD.CREATE", "Pod"),
    ]
