"""listStoragePools: one cluster-scope pool per cluster, sized and allocated from its disks."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.api.infrastructure.test_clusters import add_cluster
from tests.api.infrastructure.test_pods import make_pod
from tests.api.storage.test_volumes import UNKNOWN
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld

GIB = 1024**3


async def test_the_clusters_pool_counts_the_disks_its_hosts_hold(
    app: Starlette, api: ApiClient, compute: ComputeWorld
) -> None:
    world = await hosts_up(app, compute)
    (pool,) = (await api.ok("listStoragePools"))["storagepool"]
    assert (pool["clusterid"], pool["zoneid"], pool["podid"]) == (
        world.cluster_id,
        world.zone_id,
        world.pod_id,
    )
    assert (pool["name"], pool["state"], pool["scope"], pool["type"]) == (
        "cluster1-primary",
        "Up",
        "CLUSTER",
        "SharedMountPoint",
    )
    assert (pool["disksizetotal"], pool["disksizeallocated"]) == (10240 * GIB, 0)
    await deploy(api, world, diskofferingid=world.disk_offering_id)
    disks = (await api.ok("listVolumes", listall=True))["volume"]
    (again,) = (await api.ok("listStoragePools", id=pool["id"]))["storagepool"]
    assert again["disksizeallocated"] == sum(disk["size"] for disk in disks)
    assert again["id"] == pool["id"], "ids are stable"


async def test_filters(api: ApiClient, compute: ComputeWorld) -> None:
    pod = await make_pod(api, compute.zone_id, "pod-kvm", third_octet=7)
    cluster = await add_cluster(api, pod, "kvm1")
    listed = await api.ok("listStoragePools", clusterid=cluster["id"])
    (pool,) = listed["storagepool"]
    assert (pool["name"], pool["state"], pool["hypervisor"]) == ("kvm1-primary", "Down", "KVM")
    assert (await api.ok("listStoragePools", zoneid=compute.zone_id))["count"] == 2
    assert (await api.ok("listStoragePools", podid=compute.pod_id))["count"] == 1
    assert (await api.ok("listStoragePools", keyword="kvm"))["count"] == 1
    assert (await api.ok("listStoragePools", page=1, pagesize=1))["count"] == 2
    assert await api.ok("listStoragePools", id=UNKNOWN) == {}
    assert "zoneid" in await api.fails("listStoragePools", 431, zoneid="nope")


@pytest.mark.parametrize("who", ["d1admin", "alice"])
async def test_only_root_admins_list_them(clients: Clients, who: str) -> None:
    await getattr(clients, who).fails("listStoragePools", 531)
