"""reserve/release, and concurrent placements that must never overcommit a host."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from altostratus.db.models import Host
from altostratus.errors import InsufficientCapacity
from altostratus.services.compute.scheduler import PlacementRequest, place
from altostratus.services.infrastructure import reservations
from altostratus.settings import Settings
from tests.scheduler.conftest import FleetDb
from tests.scheduler.fleet import HostSpec, add_hosts

SETTINGS = Settings()
RATIOS = reservations.Overcommit.of(SETTINGS)


async def _allocated(fleet_db: FleetDb) -> dict[int, tuple[int, int]]:
    async with fleet_db.db.transaction(write=False) as session:
        rows = await session.execute(
            select(Host.id, Host.cpu_allocated_mhz, Host.memory_allocated_mb)
        )
        return {row.id: (row.cpu_allocated_mhz, row.memory_allocated_mb) for row in rows}


async def test_reserve_takes_room_only_while_it_fits_and_release_gives_it_back(
    fleet_db: FleetDb,
) -> None:
    [host] = await add_hosts(
        fleet_db.db, fleet_db.fleet, [HostSpec(cpu_number=1, cpu_speed=1000, memory_mb=1024)]
    )
    async with fleet_db.db.transaction() as session:
        assert await reservations.reserve(session, RATIOS, host, 600, 512)
        assert not await reservations.reserve(session, RATIOS, host, 600, 512)
        assert not await reservations.reserve(session, RATIOS, host, 100, 1024)
        assert await reservations.reserve(session, RATIOS, host, 400, 512)
    assert (await _allocated(fleet_db))[host] == (1000, 1024)
    async with fleet_db.db.transaction() as session:
        await reservations.release(session, host, 600, 512)
    assert (await _allocated(fleet_db))[host] == (400, 512)
    async with fleet_db.db.transaction() as session:
        await reservations.release(session, host, 600, 4096)
    assert (await _allocated(fleet_db))[host] == (0, 0)


async def test_concurrent_reserves_of_one_host_take_exactly_its_room(fleet_db: FleetDb) -> None:
    [host] = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec(memory_mb=2048)])

    async def one() -> bool:
        async with fleet_db.db.transaction() as session:
            return await reservations.reserve(session, RATIOS, host, 500, 512)

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert results.count(True) == 4
    assert (await _allocated(fleet_db))[host] == (2000, 2048)


async def test_n_concurrent_placements_into_room_for_m_reserve_exactly_m(
    fleet_db: FleetDb,
) -> None:
    # Three hosts with room for 2, 1 and 2 VMs of 1 GiB (by memory): M = 5.
    hosts = await add_hosts(
        fleet_db.db,
        fleet_db.fleet,
        [HostSpec(memory_mb=2048), HostSpec(memory_mb=1024), HostSpec(memory_mb=2560)],
    )
    request = PlacementRequest(zone_id=fleet_db.fleet.zone_id, cpu_mhz=100, memory_mb=1024)

    async def one() -> int | None:
        try:
            async with fleet_db.db.transaction() as session:
                return await place(session, SETTINGS, request)
        except InsufficientCapacity:
            return None

    results = await asyncio.gather(*(one() for _ in range(12)))
    chosen = [host for host in results if host is not None]
    assert len(chosen) == 5
    assert sorted(chosen) == sorted([hosts[0], hosts[0], hosts[1], hosts[2], hosts[2]])
    allocated = await _allocated(fleet_db)
    assert [allocated[host][1] for host in hosts] == [2048, 1024, 2048]
    assert [allocated[host][0] for host in hosts] == [200, 100, 200]


async def test_a_placement_rolled_back_leaves_no_reservation(fleet_db: FleetDb) -> None:
    [host] = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec()])
    request = PlacementRequest(zone_id=fleet_db.fleet.zone_id, cpu_mhz=500, memory_mb=512)

    class Abort(Exception):
        pass

    try:
        async with fleet_db.db.transaction() as session:
            assert await place(session, SETTINGS, request) == host
            raise Abort
    except Abort:
        pass
    assert (await _allocated(fleet_db))[host] == (0, 0)


async def test_concurrent_placements_wait_for_a_host_held_by_another(fleet_db: FleetDb) -> None:
    """One host with room for 4: placements racing for it queue rather than give up."""
    [host] = await add_hosts(fleet_db.db, fleet_db.fleet, [HostSpec(memory_mb=2048)])
    request = PlacementRequest(zone_id=fleet_db.fleet.zone_id, cpu_mhz=100, memory_mb=512)

    async def one() -> int | None:
        try:
            async with fleet_db.db.transaction() as session:
                chosen = await place(session, SETTINGS, request)
                await asyncio.sleep(0.02)  # hold the row lock a while, as a deploy step does
                return chosen
        except InsufficientCapacity:
            return None

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert results.count(host) == 4
    assert (await _allocated(fleet_db))[host] == (400, 2048)
