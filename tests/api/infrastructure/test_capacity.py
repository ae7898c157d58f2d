"""listCapacity: memory and CPU of the hosts that take VMs, and shared network addresses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from altostratus.db.models import Host
from altostratus.services.infrastructure.capacity import CapacityScope, CapacityType, host_capacity
from altostratus.settings import Settings
from tests.conftest import Clients
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld

MIB = 1024 * 1024


async def set_host(app: Starlette, host_uuid: str, **values: Any) -> None:
    """Change a host row directly (state, allocations), as agents and placements do."""
    async with app.state.runtime.db.transaction() as session:
        await session.execute(update(Host).where(Host.uuid == host_uuid).values(**values))


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    """Both hosts Up; host1 has 1000 MHz and 2 GiB reserved."""
    first, second = compute.host_ids
    await set_host(app, first, state="Up", cpu_allocated_mhz=1000, memory_allocated_mb=2048)
    await set_host(app, second, state="Up")
    return compute


def by_type(listed: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {entry["type"]: entry for entry in listed.get("capacity", [])}


async def test_zone_figures_for_memory_cpu_and_addresses(
    api: ApiClient, world: ComputeWorld
) -> None:
    listed = await api.ok("listCapacity")
    assert listed["count"] == 3
    figures = by_type(listed)
    assert figures[0] == {
        "type": 0,
        "name": "MEMORY",
        "zoneid": world.zone_id,
        "zonename": "zone1",
        "capacitytotal": 2 * 8192 * MIB,
        "capacityused": 2048 * MIB,
        "percentused": "12.5",
    }
    assert figures[1]["name"] == "CPU"
    assert (figures[1]["capacitytotal"], figures[1]["capacityused"]) == (16000, 1000)
    assert figures[1]["percentused"] == "6.25"
    # The shared network hands out 10.1.0.10 to 10.1.0.250; none is taken yet.
    assert figures[8]["name"] == "DIRECT_ATTACHED_PUBLIC_IP"
    assert (figures[8]["capacitytotal"], figures[8]["capacityused"]) == (241, 0)
    assert figures[8]["percentused"] == "0"


async def test_filters_group_per_pod_or_cluster_and_by_type(
    app: Starlette, api: ApiClient, world: ComputeWorld
) -> None:
    only_cpu = await api.ok("listCapacity", type=1, zoneid=world.zone_id)
    assert [entry["type"] for entry in only_cpu["capacity"]] == [1]
    per_pod = await api.ok("listCapacity", podid=world.pod_id)
    assert sorted(by_type(per_pod)) == [0, 1]
    assert all(entry["podname"] == "pod1" for entry in per_pod["capacity"])
    assert "clusterid" not in per_pod["capacity"][0]
    per_cluster = await api.ok("listCapacity", clusterid=world.cluster_id)
    assert per_cluster["capacity"][0]["clustername"] == "cluster1"
    await set_host(app, world.host_ids[1], cpu_allocated_mhz=7000)
    fullest_first = await api.ok("listCapacity", sortby="usage")
    assert [entry["type"] for entry in fullest_first["capacity"]] == [1, 0, 8]
    assert await api.ok("listCapacity", type=3) == {}


async def test_only_up_and_enabled_hosts_count(
    app: Starlette, api: ApiClient, world: ComputeWorld
) -> None:
    first, second = world.host_ids
    await set_host(app, second, resource_state="Maintenance")
    memory = by_type(await api.ok("listCapacity", type=0))[0]
    assert memory["capacitytotal"] == 8192 * MIB
    assert memory["percentused"] == "25"
    # An agent-driven host, so the in-process simulator's heartbeat cannot bring it back Up.
    await set_host(app, first, state="Disconnected", url="http://host1.invalid:8250")
    assert await api.ok("listCapacity", type=0) == {}


async def test_totals_include_the_overcommit_ratios(app: Starlette, world: ComputeWorld) -> None:
    roomy = Settings(cpu_overcommit_ratio=2.0, memory_overcommit_ratio=1.5)
    async with app.state.runtime.db.transaction(write=False) as session:
        figures = await host_capacity(session, roomy, CapacityScope())
    totals = {figure.type: figure.total for figure in figures}
    assert totals == {CapacityType.MEMORY: 2 * 12288 * MIB, CapacityType.CPU: 32000}


async def test_only_root_admins_list_capacity(clients: Clients, world: ComputeWorld) -> None:
    await clients.d1admin.fails("listCapacity", 531)
    await clients.alice.fails("listCapacity", 531)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"zoneid": "not-a-uuid"}, "zoneid"),
        ({"type": -1}, "type"),
        ({"sortby": "name"}, "sortby"),
    ],
)
async def test_bad_input_is_431_naming_the_parameter(
    api: ApiClient, params: dict[str, Any], parameter: str
) -> None:
    assert parameter in await api.fails("listCapacity", 431, **params)


async def test_unknown_places_are_431(api: ApiClient, world: ComputeWorld) -> None:
    unknown = str(uuid.uuid4())
    for parameter in ("zoneid", "podid", "clusterid"):
        text = await api.fails("listCapacity", 431, **{parameter: unknown})
        assert f"with id {unknown}" in text
