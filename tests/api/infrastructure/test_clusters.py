"""Clusters: addCluster (answered as a list), updateCluster, deleteCluster, listClusters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.infrastructure.test_pods import make_pod
from tests.api.infrastructure.test_zones import UNKNOWN, make_zone
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld


@pytest.fixture
async def zone(api: ApiClient) -> dict[str, Any]:
    return await make_zone(api, "zone1")


@pytest.fixture
async def pod(api: ApiClient, zone: dict[str, Any]) -> dict[str, Any]:
    return await make_pod(api, zone["id"], "pod1")


async def add_cluster(
    api: ApiClient, pod: dict[str, Any], name: str = "cluster1", **params: Any
) -> dict[str, Any]:
    """A CloudManaged KVM cluster in ``pod``; ``params`` adds or overrides."""
    given = {"clustertype": "CloudManaged", "hypervisor": "KVM", **params}
    answer = await api.ok(
        "addCluster", zoneid=pod["zoneid"], podid=pod["id"], clustername=name, **given
    )
    assert answer["count"] == 1
    (cluster,) = answer["cluster"]
    assert isinstance(cluster, dict)
    return cluster


async def cluster_names(api: ApiClient, **params: Any) -> list[str]:
    listed = await api.ok("listClusters", **params)
    return [cluster["name"] for cluster in listed.get("cluster", [])]


async def test_add_cluster_answers_a_one_item_list(
    api: ApiClient, zone: dict[str, Any], pod: dict[str, Any]
) -> None:
    answer = await api.ok(
        "addCluster",
        zoneid=zone["id"],
        podid=pod["id"],
        clustername="kvm-a",
        clustertype="CloudManaged",
        hypervisor="kvm",
        url="http://vcenter.example/dc",
        username="root",
        password="secret",
    )
    assert answer["count"] == 1
    (cluster,) = answer["cluster"]
    cluster_id = cluster.pop("id")
    assert cluster == {
        "name": "kvm-a",
        "podid": pod["id"],
        "podname": "pod1",
        "zoneid": zone["id"],
        "zonename": "zone1",
        "hypervisortype": "KVM",
        "clustertype": "CloudManaged",
        "allocationstate": "Enabled",
        "managedstate": "Managed",
    }
    listed = await api.ok("listClusters", id=cluster_id)
    assert listed == {"count": 1, "cluster": [{**cluster, "id": cluster_id}]}


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("KVM", "KVM"),
        ("xenserver", "XenServer"),
        ("VMWARE", "VMware"),
        ("hyperv", "Hyperv"),
        ("lxc", "LXC"),
        ("OVM3", "Ovm3"),
        ("simulator", "Simulator"),
    ],
)
async def test_hypervisor_names_are_case_insensitive_and_answered_canonically(
    api: ApiClient, pod: dict[str, Any], given: str, canonical: str
) -> None:
    cluster = await add_cluster(
        api, pod, hypervisor=given, clustertype="externalmanaged", allocationstate="DISABLED"
    )
    assert cluster["hypervisortype"] == canonical
    assert cluster["clustertype"] == "ExternalManaged"
    assert cluster["allocationstate"] == "Disabled"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"zoneid": None}, "zoneid"),
        ({"podid": None}, "podid"),
        ({"clustername": None}, "clustername"),
        ({"clustertype": None}, "clustertype"),
        ({"hypervisor": None}, "hypervisor"),
        ({"hypervisor": "Docker"}, "hypervisor"),
        ({"clustertype": "Manual"}, "clustertype"),
        ({"allocationstate": "Half"}, "allocationstate"),
        ({"zoneid": "zone1"}, "zoneid"),
        ({"zoneid": UNKNOWN}, "zoneid"),
        ({"podid": UNKNOWN}, "podid"),
        ({"clustername": "c" * 256}, "clustername"),
    ],
)
async def test_add_cluster_rejects_bad_input_naming_the_parameter(
    api: ApiClient, pod: dict[str, Any], params: dict[str, Any], parameter: str
) -> None:
    base = {
        "zoneid": pod["zoneid"],
        "podid": pod["id"],
        "clustername": "c1",
        "clustertype": "CloudManaged",
        "hypervisor": "KVM",
    }
    text = await api.fails("addCluster", 431, **{**base, **params})
    assert f"parameter {parameter}" in text
    assert await api.ok("listClusters") == {}


async def test_the_pod_must_be_in_the_zone(api: ApiClient, pod: dict[str, Any]) -> None:
    elsewhere = await make_zone(api, "zone2")
    text = await api.fails(
        "addCluster",
        431,
        zoneid=elsewhere["id"],
        podid=pod["id"],
        clustername="c1",
        clustertype="CloudManaged",
        hypervisor="KVM",
    )
    assert "parameter podid" in text
    assert "zone2" in text
    assert await api.ok("listClusters") == {}


async def test_cluster_names_are_unique_within_a_pod(
    api: ApiClient, zone: dict[str, Any], pod: dict[str, Any]
) -> None:
    other_pod = await make_pod(api, zone["id"], "pod2", third_octet=2)
    first = await add_cluster(api, pod, "c1")
    await add_cluster(api, pod, "c2")
    await add_cluster(api, other_pod, "c1")
    text = await api.fails(
        "addCluster",
        431,
        zoneid=zone["id"],
        podid=pod["id"],
        clustername="c1",
        clustertype="CloudManaged",
        hypervisor="KVM",
    )
    assert "already exists" in text
    assert "parameter clustername" in await api.fails(
        "updateCluster", 431, id=first["id"], clustername="c2"
    )
    assert await cluster_names(api, podid=pod["id"]) == ["c1", "c2"]


async def test_update_cluster(api: ApiClient, pod: dict[str, Any]) -> None:
    cluster = await add_cluster(api, pod)
    updated = await api.ok(
        "updateCluster",
        id=cluster["id"],
        clustername="renamed",
        allocationstate="Disabled",
        managedstate="unmanaged",
        clustertype="ExternalManaged",
        hypervisor="vmware",
    )
    expected = {
        **cluster,
        "name": "renamed",
        "allocationstate": "Disabled",
        "managedstate": "Unmanaged",
        "clustertype": "ExternalManaged",
        "hypervisortype": "VMware",
    }
    assert updated["cluster"] == expected
    assert (await api.ok("listClusters"))["cluster"] == [expected]
    back = await api.ok("updateCluster", id=cluster["id"], managedstate="Managed")
    assert back["cluster"] == {**expected, "managedstate": "Managed"}


async def test_update_cluster_rejects_bad_input_and_changes_nothing(
    api: ApiClient, pod: dict[str, Any]
) -> None:
    cluster = await add_cluster(api, pod)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"clustername": "x"}, "id"),
        ({"id": "c1"}, "id"),
        ({"id": cluster["id"], "managedstate": "PrepareUnmanaged"}, "managedstate"),
        ({"id": cluster["id"], "hypervisor": "Bhyve"}, "hypervisor"),
        ({"id": cluster["id"], "clustertype": "Other"}, "clustertype"),
        ({"id": cluster["id"], "allocationstate": "On"}, "allocationstate"),
    ]
    for params, parameter in cases:
        text = await api.fails("updateCluster", 431, **params)
        assert f"parameter {parameter}" in text, (params, text)
    text = await api.fails("updateCluster", 431, id=UNKNOWN, clustername="x")
    assert f"Unable to find cluster with id {UNKNOWN}" in text
    assert "parameter id" in text
    assert (await api.ok("listClusters"))["cluster"] == [cluster]


async def test_delete_cluster(api: ApiClient, pod: dict[str, Any]) -> None:
    cluster = await add_cluster(api, pod, "c1")
    await add_cluster(api, pod, "c2")
    assert await api.ok("deleteCluster", id=cluster["id"]) == {"success": "true"}
    assert await cluster_names(api) == ["c2"]
    assert "Unable to find cluster" in await api.fails("deleteCluster", 431, id=cluster["id"])
    assert "parameter id" in await api.fails("deleteCluster", 431)


async def test_a_cluster_with_hosts_is_in_use(api: ApiClient, compute: ComputeWorld) -> None:
    hosts = (await api.ok("listHosts", clusterid=compute.cluster_id))["host"]
    text = await api.fails("deleteCluster", 536, id=compute.cluster_id)
    assert "cannot be deleted as it has hosts" in text
    assert all(host["name"] in text for host in hosts)
    assert (await api.ok("listClusters", id=compute.cluster_id))["count"] == 1


async def test_only_root_admins_manage_or_list_clusters(
    api: ApiClient, clients: Clients, pod: dict[str, Any]
) -> None:
    cluster = await add_cluster(api, pod)
    for client in (clients.d1admin, clients.alice):
        await client.fails(
            "addCluster",
            531,
            zoneid=pod["zoneid"],
            podid=pod["id"],
            clustername="mine",
            clustertype="CloudManaged",
            hypervisor="KVM",
        )
        await client.fails("updateCluster", 531, id=cluster["id"], clustername="mine")
        await client.fails("deleteCluster", 531, id=cluster["id"])
        await client.fails("listClusters", 531)
    assert (await api.ok("listClusters"))["cluster"] == [cluster]


async def test_list_clusters_filters_and_pages(
    api: ApiClient, zone: dict[str, Any], pod: dict[str, Any]
) -> None:
    other_zone = await make_zone(api, "zone2")
    far_pod = await make_pod(api, other_zone["id"], "far")
    await add_cluster(api, pod, "kvm-1")
    await add_cluster(api, pod, "kvm-2", allocationstate="Disabled")
    await add_cluster(api, pod, "xen-1", hypervisor="XenServer")
    vmware = await add_cluster(
        api, far_pod, "vmw-1", hypervisor="VMware", clustertype="ExternalManaged"
    )
    await api.ok("updateCluster", id=vmware["id"], managedstate="Unmanaged")

    assert await cluster_names(api, zoneid=zone["id"]) == ["kvm-1", "kvm-2", "xen-1"]
    assert await cluster_names(api, podid=far_pod["id"]) == ["vmw-1"]
    assert await cluster_names(api, hypervisor="kvm") == ["kvm-1", "kvm-2"]
    assert await cluster_names(api, clustertype="ExternalManaged") == ["vmw-1"]
    assert await cluster_names(api, allocationstate="Disabled") == ["kvm-2"]
    assert await cluster_names(api, managedstate="Unmanaged") == ["vmw-1"]
    assert await cluster_names(api, name="xen-1") == ["xen-1"]
    assert await cluster_names(api, keyword="KVM") == ["kvm-1", "kvm-2"]
    page = await api.ok("listClusters", page=2, pagesize=3)
    assert page["count"] == 4
    assert [c["name"] for c in page["cluster"]] == ["vmw-1"]
    assert "parameter zoneid" in await api.fails("listClusters", 431, zoneid=UNKNOWN)
    assert "parameter podid" in await api.fails("listClusters", 431, podid=UNKNOWN)
    assert await api.ok("listClusters", hypervisor="Docker") == {}
    assert await api.ok("listClusters", id="-1") == {}


async def test_cluster_changes_are_events(api: ApiClient, pod: dict[str, Any]) -> None:
    cluster = await add_cluster(api, pod)
    await api.ok("updateCluster", id=cluster["id"], clustername="c2")
    await api.ok("deleteCluster", id=cluster["id"])
    events = (await api.ok("listEvents", resourceid=cluster["id"]))["event"]
    assert [(e["type"], e["resourcetype"]) for e in events] == [
        ("CLUSTER.DELETE", "Cluster"),
        ("CLUSTER.EDIT", "Cluster"),
        ("CLUSTER.CREATE", "Cluster"),
    ]
