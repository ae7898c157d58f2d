"""listHypervisors: what Ansible's cs_template picks a template's hypervisor from."""

from __future__ import annotations

import pytest

from altostratus.agent.drivers.libvirt import LibvirtDriver
from altostratus.agent.drivers.simulator import SimulatorDriver
from tests.api.infrastructure.test_clusters import add_cluster
from tests.api.infrastructure.test_pods import make_pod
from tests.api.infrastructure.test_zones import UNKNOWN, make_zone
from tests.conftest import Clients
from tests.support.compute_world import ComputeWorld


def names(answer: dict[str, object]) -> list[str]:
    listed = answer.get("hypervisor", [])
    assert isinstance(listed, list)
    return [entry["name"] for entry in listed]


async def test_without_a_zone_every_driver_hypervisor_is_offered(clients: Clients) -> None:
    for client in (clients.admin, clients.d1admin, clients.alice):
        answer = await client.ok("listHypervisors")
        assert names(answer) == sorted([LibvirtDriver.hypervisor, SimulatorDriver.hypervisor])
        assert answer["count"] == 2


async def test_a_zone_offers_its_clusters_hypervisors(
    clients: Clients, compute: ComputeWorld
) -> None:
    assert names(await clients.alice.ok("listHypervisors", zoneid=compute.zone_id)) == ["Simulator"]
    pod = await make_pod(clients.admin, compute.zone_id, "pod-kvm", third_octet=7)
    await add_cluster(clients.admin, pod, "kvm1", hypervisor="kvm")
    assert names(await clients.alice.ok("listHypervisors", zoneid=compute.zone_id)) == [
        "KVM",
        "Simulator",
    ]


async def test_an_empty_zone_offers_none(clients: Clients) -> None:
    zone = await make_zone(clients.admin, "empty")
    assert await clients.admin.ok("listHypervisors", zoneid=zone["id"]) == {}


@pytest.mark.parametrize(("zoneid", "needle"), [(UNKNOWN, UNKNOWN), ("nope", "zoneid")])
async def test_a_bad_zone_is_431(clients: Clients, zoneid: str, needle: str) -> None:
    assert needle in await clients.alice.fails("listHypervisors", 431, zoneid=zoneid)
