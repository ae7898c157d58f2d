"""Property: place() returns the weigher's best host among those passing every filter,
and raises 533 exactly when no host passes them.

The oracle below restates the filters in plain Python over the same random hosts, so a
disagreement with the SQL the scheduler runs shows up as a minimal failing example.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from altostratus.db.models import Cluster, Host
from altostratus.errors import InsufficientCapacity
from altostratus.services.compute.scheduler import PlacementRequest, place
from altostratus.settings import Settings
from tests.scheduler.conftest import FleetDb
from tests.scheduler.fleet import HostSpec, add_hosts, clear_hosts

TAGS = ("ssd", "gpu", "s_d")


@st.composite
def host_specs(draw: st.DrawFn) -> HostSpec:
    cpu_number = draw(st.integers(1, 4))
    cpu_speed = draw(st.sampled_from([1000, 2000]))
    memory_mb = draw(st.sampled_from([1024, 2048, 4096]))
    return HostSpec(
        state=draw(st.sampled_from(["Up", "Up", "Down", "Disconnected"])),
        resource_state=draw(st.sampled_from(["Enabled", "Enabled", "Disabled", "Maintenance"])),
        cpu_number=cpu_number,
        cpu_speed=cpu_speed,
        memory_mb=memory_mb,
        cpu_allocated_mhz=draw(st.integers(0, cpu_number * cpu_speed)),
        memory_allocated_mb=draw(st.integers(0, memory_mb)),
        host_tags=",".join(sorted(draw(st.sets(st.sampled_from(TAGS))))),
        cluster=draw(st.integers(0, 1)),
    )


@dataclass(frozen=True)
class Case:
    hosts: list[HostSpec]
    second_cluster_enabled: bool
    cpu_mhz: int
    memory_mb: int
    tags: frozenset[str]
    only_cluster: int | None
    avoid: frozenset[int]
    settings: Settings


cases = st.builds(
    Case,
    hosts=st.lists(host_specs(), min_size=0, max_size=8),
    second_cluster_enabled=st.booleans(),
    cpu_mhz=st.integers(100, 4000),
    memory_mb=st.integers(128, 4096),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
    only_cluster=st.none() | st.integers(0, 1),
    avoid=st.frozensets(st.integers(0, 7), max_size=3),
    settings=st.builds(
        Settings,
        cpu_overcommit_ratio=st.sampled_from([1.0, 1.5, 2.0]),
        memory_overcommit_ratio=st.sampled_from([1.0, 1.5]),
        scheduler_weigher=st.sampled_from(["spread", "pack"]),
    ),
)


def _room(spec: HostSpec, settings: Settings) -> tuple[float, float]:
    free_cpu = spec.cpu_number * spec.cpu_speed * settings.cpu_overcommit_ratio
    free_memory = spec.memory_mb * settings.memory_overcommit_ratio
    return free_cpu - spec.cpu_allocated_mhz, free_memory - spec.memory_allocated_mb


def _eligible(case: Case, spec: HostSpec, position: int) -> bool:
    free_cpu, free_memory = _room(spec, case.settings)
    return (
        spec.state == "Up"
        and spec.resource_state == "Enabled"
        and (spec.cluster == 0 or case.second_cluster_enabled)
        and (case.only_cluster is None or spec.cluster == case.only_cluster)
        and position not in case.avoid
        and case.tags <= set(filter(None, spec.host_tags.split(",")))
        and free_cpu >= case.cpu_mhz
        and free_memory >= case.memory_mb
    )


def _expected(case: Case, ids: list[int]) -> int | None:
    """The oracle: the weigher's best eligible host, or None."""
    eligible = [
        (spec, host_id)
        for position, (spec, host_id) in enumerate(zip(case.hosts, ids, strict=True))
        if _eligible(case, spec, position)
    ]
    if not eligible:
        return None
    sign = 1 if case.settings.scheduler_weigher == "pack" else -1

    def weight(item: tuple[HostSpec, int]) -> tuple[float, float, int]:
        free_cpu, free_memory = _room(item[0], case.settings)
        return sign * free_memory, sign * free_cpu, item[1]

    return min(eligible, key=weight)[1]


async def _prepare(fleet_db: FleetDb, case: Case) -> list[int]:
    await clear_hosts(fleet_db.db)
    async with fleet_db.db.transaction() as session:
        await session.execute(
            update(Cluster)
            .where(Cluster.id == fleet_db.fleet.cluster_ids[1])
            .values(allocation_state="Enabled" if case.second_cluster_enabled else "Disabled")
        )
    return await add_hosts(fleet_db.db, fleet_db.fleet, case.hosts)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases)
async def test_place_agrees_with_the_filters_and_the_weigher(fleet_db: FleetDb, case: Case) -> None:
    ids = await _prepare(fleet_db, case)
    fleet = fleet_db.fleet
    request = PlacementRequest(
        zone_id=fleet.zone_id,
        cpu_mhz=case.cpu_mhz,
        memory_mb=case.memory_mb,
        host_tags=case.tags,
        cluster_id=None if case.only_cluster is None else fleet.cluster_ids[case.only_cluster],
        avoid_host_ids=frozenset(ids[position] for position in case.avoid if position < len(ids)),
    )
    expected = _expected(case, ids)
    async with fleet_db.db.transaction() as session:
        if expected is None:
            with pytest.raises(InsufficientCapacity):
                await place(session, case.settings, request)
            return
        chosen = await place(session, case.settings, request)
        assert chosen == expected
        allocated = (
            await session.execute(
                select(Host.cpu_allocated_mhz, Host.memory_allocated_mb).where(Host.id == chosen)
            )
        ).one()
    spec = case.hosts[ids.index(chosen)]
    assert allocated.cpu_allocated_mhz == spec.cpu_allocated_mhz + case.cpu_mhz
    assert allocated.memory_allocated_mb == spec.memory_allocated_mb + case.memory_mb
