"""place(): each filter, both weighers, affinity, and the 533 that says why."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select, update

from altostratus.db.models import AffinityGroup, Cluster, Host, VirtualMachine, Zone
from altostratus.db.models.tenancy import affinity_group_members
from altostratus.errors import InsufficientCapacity
from altostratus.services.compute.scheduler import AFFINITY, ANTI_AFFINITY, PlacementRequest, place
from altostratus.settings import Settings
from tests.scheduler.conftest import FleetDb
from tests.scheduler.fleet import HostSpec, add_hosts

SPREAD = Settings(scheduler_weigher="spread")
PACK = Settings(scheduler_weigher="pack")


def small(fleet_db: FleetDb, **changes: object) -> PlacementRequest:
    """A 1 x 500 MHz, 512 MB VM in the fleet's zone."""
    fields: dict[str, object] = {
        "zone_id": fleet_db.fleet.zone_id,
        "cpu_mhz": 500,
        "memory_mb": 512,
    }
    return PlacementRequest(**{**fields, **changes})  # type: ignore[arg-type]


async def placed(fleet_db: FleetDb, request: PlacementRequest, settings: Settings = SPREAD) -> int:
    async with fleet_db.db.transaction() as session:
        return await place(session, settings, request)


async def refused(fleet_db: FleetDb, request: PlacementRequest, settings: Settings = SPREAD) -> str:
    with pytest.raises(InsufficientCapacity) as caught:
        await placed(fleet_db, request, settings)
    assert caught.value.code == 533
    return caught.value.text


async def allocation(fleet_db: FleetDb, host_id: int) -> tuple[int, int]:
    async with fleet_db.db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(Host.cpu_allocated_mhz, Host.memory_allocated_mb).where(Host.id == host_id)
            )
        ).one()
    return row.cpu_allocated_mhz, row.memory_allocated_mb


async def test_place_reserves_the_vm_on_the_chosen_host(fleet_db: FleetDb) -> None:
    [host] = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec(cpu_allocated_mhz=1000)])
    assert await placed(fleet_db, small(fleet_db)) == host
    assert await allocation(fleet_db, host) == (1500, 512)


async def test_spread_picks_most_free_memory_then_cpu_and_pack_the_least(
    fleet_db: FleetDb,
) -> None:
    hosts = await add_hosts(
        fleet_db.db,
        fleet_db.fleet,
        [
            HostSpec(memory_allocated_mb=4096),
            HostSpec(memory_allocated_mb=1024, cpu_allocated_mhz=2000),
            HostSpec(memory_allocated_mb=1024),
            HostSpec(memory_allocated_mb=7680),
        ],
    )
    assert await placed(fleet_db, small(fleet_db)) == hosts[2]
    # hosts[3] has exactly 512 MB left: the fullest host that still fits.
    assert await placed(fleet_db, small(fleet_db), PACK) == hosts[3]
    # Now full, the next pack placement goes to the next fullest.
    assert await placed(fleet_db, small(fleet_db), PACK) == hosts[0]


async def test_only_up_and_enabled_hosts_in_enabled_clusters_are_used(fleet_db: FleetDb) -> None:
    fleet = fleet_db.fleet
    hosts = await add_hosts(
        fleet_db.db,
        fleet,
        [
            HostSpec(state="Disconnected"),
            HostSpec(resource_state="Maintenance"),
            HostSpec(cluster=1),
            HostSpec(memory_mb=1024),
        ],
    )
    async with fleet_db.db.transaction() as session:
        await session.execute(
            update(Cluster)
            .where(Cluster.id == fleet.cluster_ids[1])
            .values(allocation_state="Disabled")
        )
    assert await placed(fleet_db, small(fleet_db)) == hosts[3]
    assert await placed(fleet_db, small(fleet_db)) == hosts[3]
    text = await refused(fleet_db, small(fleet_db))
    assert "no host has 500 MHz CPU and 512 MB memory free" in text


async def test_the_reason_names_the_filter_that_left_no_host(fleet_db: FleetDb) -> None:
    fleet = fleet_db.fleet
    assert "the zone has no hosts" in await refused(fleet_db, small(fleet_db))
    [host] = await add_hosts(fleet_db.db, fleet, [HostSpec(state="Down", host_tags="ssd")])
    assert "no host is Up and Enabled" in await refused(fleet_db, small(fleet_db))
    other = await add_hosts(fleet_db.db, fleet, [HostSpec(host_tags="gpu")])
    tagged = small(fleet_db, host_tags=frozenset({"SSD"}))
    assert "no host carries tags ssd" in await refused(fleet_db, tagged)
    text = await refused(fleet_db, small(fleet_db, cluster_id=fleet.cluster_ids[1]))
    assert "no host matches the pod, cluster or host asked for" in text
    assert "zone zone1" in text
    assert await placed(fleet_db, small(fleet_db, host_id=other[0])) == other[0]
    assert "no host matches" in await refused(fleet_db, small(fleet_db, host_id=host + 1000))


async def test_every_offering_tag_must_be_on_the_host(fleet_db: FleetDb) -> None:
    hosts = await add_hosts(
        fleet_db.db,
        fleet_db.fleet,
        [
            HostSpec(host_tags="ssd"),
            HostSpec(host_tags="gpu,ssd", memory_allocated_mb=4096),
            HostSpec(host_tags="ssd_fast"),
        ],
    )
    both = small(fleet_db, host_tags=frozenset({"ssd", "gpu"}))
    assert await placed(fleet_db, both) == hosts[1]
    # "ssd" must match a whole tag: "ssd_fast" (with a LIKE wildcard in it) is not "ssd".
    assert await placed(fleet_db, small(fleet_db, host_tags=frozenset({"ssd"}))) == hosts[0]
    assert "no host carries tags s_d" in await refused(
        fleet_db, small(fleet_db, host_tags=frozenset({"s_d"}))
    )


async def test_disabled_zone_and_avoided_hosts(fleet_db: FleetDb) -> None:
    hosts = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec(), HostSpec()])
    assert await placed(fleet_db, small(fleet_db, avoid_host_ids=frozenset({hosts[0]}))) == hosts[1]
    avoid_all = small(fleet_db, avoid_host_ids=frozenset(hosts))
    assert "no host matches" in await refused(fleet_db, avoid_all)
    async with fleet_db.db.transaction() as session:
        await session.execute(
            update(Zone)
            .where(Zone.id == fleet_db.fleet.zone_id)
            .values(allocation_state="Disabled")
        )
    assert "is not Enabled for deployment" in await refused(fleet_db, small(fleet_db))


async def test_overcommit_ratios_widen_the_room(fleet_db: FleetDb) -> None:
    [host] = await add_hosts(
        fleet_db.db, fleet_db.fleet, [HostSpec(cpu_number=1, cpu_speed=1000, memory_mb=1024)]
    )
    big = small(fleet_db, cpu_mhz=1500, memory_mb=1536)
    assert "no host has 1500 MHz" in await refused(fleet_db, big)
    roomy = Settings(cpu_overcommit_ratio=2.0, memory_overcommit_ratio=1.5)
    assert await placed(fleet_db, big, roomy) == host
    assert "no host has" in await refused(fleet_db, small(fleet_db), roomy)


async def _vm_on(fleet_db: FleetDb, host_id: int | None, group_id: int, name: str) -> int:
    fleet = fleet_db.fleet
    async with fleet_db.db.transaction() as session:
        vm = VirtualMachine(
            name=name,
            display_name=name,
            instance_name=f"i-{name}",
            account_id=fleet.account_id,
            domain_id=fleet.domain_id,
            zone_id=fleet.zone_id,
            host_id=host_id,
            service_offering_id=fleet.offering_id,
            template_id=fleet.template_id,
            state="Running" if host_id else "Stopped",
            cpu_number=1,
            cpu_speed=500,
            memory_mb=512,
        )
        session.add(vm)
        await session.flush()
        await session.execute(
            insert(affinity_group_members).values(affinity_group_id=group_id, vm_id=vm.id)
        )
        return vm.id


async def _group(fleet_db: FleetDb, name: str, kind: str) -> int:
    async with fleet_db.db.transaction() as session:
        group = AffinityGroup(
            name=name,
            type=kind,
            account_id=fleet_db.fleet.account_id,
            domain_id=fleet_db.fleet.domain_id,
        )
        session.add(group)
        await session.flush()
        return group.id


async def test_anti_affinity_keeps_group_members_apart(fleet_db: FleetDb) -> None:
    hosts = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec(), HostSpec(), HostSpec()])
    group = await _group(fleet_db, "apart", ANTI_AFFINITY)
    seen = set()
    for number in range(3):
        host = await placed(fleet_db, small(fleet_db, affinity_group_ids=(group,)))
        seen.add(host)
        await _vm_on(fleet_db, host, group, f"apart{number}")
    assert seen == set(hosts)
    text = await refused(fleet_db, small(fleet_db, affinity_group_ids=(group,)))
    assert "affinity groups rule out every remaining host" in text
    assert "3 host(s) taken by anti-affinity peers" in text


async def test_affinity_pins_the_host_of_the_groups_other_vms(fleet_db: FleetDb) -> None:
    hosts = await add_hosts(
        fleet_db.db, fleet_db.fleet, [HostSpec(memory_allocated_mb=4096), HostSpec()]
    )
    group = await _group(fleet_db, "together", AFFINITY)
    # An empty group (or members without a host) pins nothing: spread picks hosts[1].
    stopped = await _vm_on(fleet_db, None, group, "stopped")
    assert await placed(fleet_db, small(fleet_db, affinity_group_ids=(group,))) == hosts[1]
    first = await _vm_on(fleet_db, hosts[0], group, "first")
    assert await placed(fleet_db, small(fleet_db, affinity_group_ids=(group,))) == hosts[0]
    # The VM being placed does not pin itself (a restart of "first" may go anywhere).
    alone = small(fleet_db, affinity_group_ids=(group,), vm_id=first)
    assert await placed(fleet_db, alone) == hosts[1]
    # Members on two hosts: no host keeps the group together.
    await _vm_on(fleet_db, hosts[1], group, "second")
    text = await refused(fleet_db, small(fleet_db, affinity_group_ids=(group,), vm_id=stopped))
    assert "host affinity of together" in text


async def test_concurrent_placements_of_one_anti_affinity_group_stay_apart(
    fleet_db: FleetDb,
) -> None:
    """The second placement reads the group only once the first VM holds its host.

    One host with room for both: without the group lock, the second placement reads
    the members before the first commits, waits for the host row, then takes it too.
    """
    [host] = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec()])
    group = await _group(fleet_db, "apart", ANTI_AFFINITY)
    first_vm = await _vm_on(fleet_db, None, group, "one")
    second_vm = await _vm_on(fleet_db, None, group, "two")
    first_placed = asyncio.Event()

    async def place_first() -> int:
        async with fleet_db.db.transaction() as session:
            chosen = await place(
                session, SPREAD, small(fleet_db, affinity_group_ids=(group,), vm_id=first_vm)
            )
            await session.execute(
                update(VirtualMachine)
                .where(VirtualMachine.id == first_vm)
                .values(host_id=chosen, state="Starting")
            )
            first_placed.set()
            await asyncio.sleep(0.3)  # the second placement runs meanwhile
            return chosen

    async def place_second() -> str:
        await first_placed.wait()
        second = small(fleet_db, affinity_group_ids=(group,), vm_id=second_vm)
        return await refused(fleet_db, second)

    chosen, text = await asyncio.gather(place_first(), place_second())
    assert chosen == host
    assert "anti-affinity peers" in text
