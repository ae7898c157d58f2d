"""Garbage collection of the log and the tombstones, across three in-process regions.

Regions pull from each other for real (``Puller`` over in-process transports, as in
``test_puller``), so the peer vectors that decide what may go are the ones pulls store.
Region 3 can be left out of the network, as a region that is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from altostratus.db.models import EntityVersion, PeerVector, ReplicationEntry
from altostratus.federation.audit import audit_peer
from altostratus.federation.gc import (
    Collected,
    collect,
    collect_garbage,
    collection_interval,
    record_peer_vector,
)
from altostratus.federation.peers import PeerClient
from altostratus.federation.puller import Puller, peer_regions
from altostratus.runtime import Runtime
from altostratus.services.compute import teardown
from altostratus.services.identity.domains import create_domain, start_domain_deletion
from altostratus.services.identity.regions import remove_region
from altostratus.settings import Settings
from tests.federation.support import (
    as_admin,
    build_federation,
    copy_federation,
    dump,
    exchange,
    log_entries,
    new_account,
    start_all,
    vector,
)
from tests.federation.test_puller import Network

ENDPOINTS = ("http://r2.invalid/client/api", "http://r3.invalid/client/api")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> list[Settings]:
    """Three stopped regions that know each other."""
    return asyncio.run(build_federation(tmp_path_factory.mktemp("gc"), 3))


async def _start(template: list[Settings], tmp_path: Path, grace: float) -> list[Runtime]:
    copies = copy_federation(template, tmp_path)
    return await start_all([s.model_copy(update={"tombstone_grace": grace}) for s in copies])


@pytest.fixture
async def regions(template: list[Settings], tmp_path: Path) -> AsyncIterator[list[Runtime]]:
    """Three regions that collect tombstones as soon as every region has them."""
    runtimes = await _start(template, tmp_path, grace=0.0)
    yield runtimes
    for runtime in runtimes:
        await runtime.close()


def _network(runtimes: Sequence[Runtime]) -> httpx.AsyncClient:
    """Reaches the given regions (by their registered endpoints); any other is down."""
    endpoints = (runtimes[0].settings.endpoint, *ENDPOINTS)
    by_id = {runtime.deps.local_region_id: runtime for runtime in runtimes}
    routes = {endpoints[region - 1]: runtime for region, runtime in by_id.items()}
    return httpx.AsyncClient(transport=Network(routes))


def _client(runtime: Runtime, network: httpx.AsyncClient) -> PeerClient:
    return PeerClient(runtime.federation_key, runtime.deps.local_region_id, http=network)


async def _pull_rounds(runtimes: Sequence[Runtime], reachable: Sequence[Runtime]) -> None:
    """Two rounds in which every region pulls from every reachable peer: the second
    round brings each region the vectors its peers reached in the first."""
    async with _network(reachable) as network:
        for _ in range(2):
            for runtime in runtimes:
                await Puller(runtime.federation, _client(runtime, network)).run_once()


async def _create_and_delete_domain(runtime: Runtime, name: str = "emea") -> str:
    async with as_admin(runtime) as ctx:
        domain = await create_domain(
            ctx,
            name=name,
            parent_uuid=ctx.caller.domain_uuid,
            network_domain=None,
            domain_uuid=None,
        )
    async with as_admin(runtime) as ctx:
        deletion = await start_domain_deletion(ctx, domain_uuid=domain.domain.uuid, cleanup=False)
        await teardown.remove_domain_tree(ctx, deletion)
    return domain.domain.uuid


async def _tombstones(runtime: Runtime) -> set[tuple[str, str]]:
    async with runtime.db.transaction(write=False) as session:
        rows = await session.execute(
            select(EntityVersion.entity_type, EntityVersion.entity_key).where(
                EntityVersion.deleted.is_(True)
            )
        )
        return {(row.entity_type, row.entity_key) for row in rows}


async def _log_positions(runtime: Runtime) -> set[tuple[int, int]]:
    return {(entry["origin"], entry["seq"]) for entry in await log_entries(runtime)}


async def _live_versions(runtime: Runtime) -> dict[tuple[str, str], str]:
    async with runtime.db.transaction(write=False) as session:
        rows = await session.scalars(select(EntityVersion).where(EntityVersion.deleted.is_(False)))
        return {(row.entity_type, row.entity_key): row.version for row in rows}


async def _peer_vector(runtime: Runtime, region_id: int) -> dict[int, int]:
    async with runtime.db.transaction(write=False) as session:
        rows = await session.scalars(select(PeerVector).where(PeerVector.region_id == region_id))
        return {row.origin: row.seq for row in rows}


async def _record_pull(runtime: Runtime, peer: Runtime) -> None:
    """What a pull from ``peer`` would have stored of its vector, without its entries."""
    peer_id, peer_vector = peer.deps.local_region_id, await vector(peer)
    async with runtime.db.transaction() as session:
        await session.run_sync(lambda s: record_peer_vector(s, peer_id, peer_vector))


async def test_a_delete_every_region_has_is_collected_everywhere(
    regions: list[Runtime],
) -> None:
    r1, r2, r3 = regions
    uuid = await _create_and_delete_domain(r1)
    await _pull_rounds(regions, regions)
    assert ("domain", uuid) in await _tombstones(r3)
    assert await _peer_vector(r2, 1) == await vector(r1), "a pull stores the peer's vector"
    vectors = [await vector(r) for r in regions]
    live = [await _live_versions(r) for r in regions]

    collected = [await collect_garbage(r.federation) for r in regions]

    for result in collected:
        assert result.tombstones == 1
        assert result.entries > 0
        assert str(result) == f"removed {result.entries} log entries and 1 tombstones"
    for runtime in regions:
        assert await log_entries(runtime) == [], "every entry is applied and held everywhere"
        assert await _tombstones(runtime) == set()
    assert [await vector(r) for r in regions] == vectors
    assert [await _live_versions(r) for r in regions] == live, "live versions stay"
    assert await dump(r1) == await dump(r2) == await dump(r3)
    again = await collect_garbage(r1.federation)
    assert (again.entries, again.tombstones) == (0, 0)

    # Replication goes on from the same vectors: region 1's seq counter was not touched.
    async with as_admin(r2) as ctx:
        await create_domain(
            ctx,
            name="apac",
            parent_uuid=ctx.caller.domain_uuid,
            network_domain=None,
            domain_uuid=None,
        )
    await _create_and_delete_domain(r1, "latam")
    assert (1, vectors[0][1] + 1) in await _log_positions(r1)
    await _pull_rounds(regions, regions)
    assert await dump(r1) == await dump(r2) == await dump(r3)
    assert "apac" in {d["name"] for d in (await dump(r3))["domain"].values()}


async def test_nothing_goes_while_a_region_s_vector_is_unknown(regions: list[Runtime]) -> None:
    r1, r2, _r3 = regions
    uuid = await _create_and_delete_domain(r1)
    await _pull_rounds([r1, r2], reachable=[r1, r2])
    before = [(await log_entries(r), await _tombstones(r)) for r in (r1, r2)]
    assert ("domain", uuid) in before[0][1]

    for runtime in (r1, r2):
        result = await collect_garbage(runtime.federation)
        assert result == Collected(0, 0, unknown=(3,))
        assert str(result) == "nothing removed: the vector of region 3 is not known yet"
    assert [(await log_entries(r), await _tombstones(r)) for r in (r1, r2)] == before


async def test_what_a_region_behind_lacks_is_kept_until_it_has_it(
    regions: list[Runtime],
) -> None:
    r1, r2, r3 = regions
    await _pull_rounds(regions, regions)  # every region knows every vector, all equal
    known = await vector(r3)
    uuid = await _create_and_delete_domain(r1)
    await _pull_rounds([r1, r2], reachable=[r1, r2])  # region 3 is down meanwhile
    lacking = {p for p in await _log_positions(r1) if p[1] > known[p[0]]}
    assert lacking, "the create and the delete"

    result = await collect_garbage(r1.federation)

    assert result.entries > 0, "what region 3 has goes"
    assert result.tombstones == 0
    assert await _log_positions(r1) == lacking
    assert ("domain", uuid) in await _tombstones(r1)
    # Region 3 comes back and catches up from what was kept.
    await _pull_rounds([r3], reachable=regions)
    assert await dump(r3) == await dump(r1)
    await _pull_rounds(regions, regions)
    assert (await collect_garbage(r1.federation)).tombstones == 1


async def test_entries_waiting_for_a_reference_stay(regions: list[Runtime]) -> None:
    r1, r2, r3 = regions
    async with as_admin(r1) as ctx:
        domain = await create_domain(
            ctx,
            name="emea",
            parent_uuid=ctx.caller.domain_uuid,
            network_domain=None,
            domain_uuid=None,
        )
    await exchange(r1, r2)
    async with as_admin(r2) as ctx:
        await new_account(ctx, "emea-ops", domain.domain.uuid, "dora")
    await exchange(r2, r1)
    # Region 3 gets region 2's entries but not the domain they are in: they wait.
    only_r2 = [entry for entry in await log_entries(r2) if entry["origin"] == 2]
    _stored, _applied, waiting = await exchange(r2, r3, only_r2)
    assert waiting > 0
    # Region 3 knows that every region holds all of region 2's entries.
    for peer in (r1, r2):
        await _record_pull(r3, peer)

    await collect_garbage(r3.federation)

    async with r3.db.transaction(write=False) as session:
        kept = await session.scalars(
            select(ReplicationEntry.seq).where(
                ReplicationEntry.origin == 2, ReplicationEntry.applied.is_(False)
            )
        )
        assert len(list(kept)) == waiting
    await exchange(r1, r3)
    assert await dump(r3) == await dump(r1) == await dump(r2)


async def test_a_fresh_tombstone_stays_for_the_grace_period(
    template: list[Settings], tmp_path: Path
) -> None:
    regions = await _start(template, tmp_path, grace=Settings().tombstone_grace)
    try:
        r1 = regions[0]
        uuid = await _create_and_delete_domain(r1)
        await _pull_rounds(regions, regions)

        result = await collect_garbage(r1.federation)

        assert result.entries > 0
        assert result.tombstones == 0
        assert ("domain", uuid) in await _tombstones(r1)
        # A day later it goes.
        later = time.time() + 86_400 + 60
        async with r1.db.transaction() as session:
            result = await session.run_sync(lambda s: collect(s, 1, 86_400, later))
        assert result.tombstones == 1
        assert await _tombstones(r1) == set()
    finally:
        for runtime in regions:
            await runtime.close()


async def test_the_audit_takes_a_tombstone_collected_on_one_side_for_no_divergence(
    regions: list[Runtime],
) -> None:
    r1, r2, _r3 = regions
    uuid = await _create_and_delete_domain(r1)
    await _pull_rounds(regions, regions)
    assert (await collect_garbage(r1.federation)).tombstones == 1  # region 2 has not collected yet

    async with _network(regions) as network:
        for runtime, peer_id in ((r1, 2), (r2, 1)):
            peer = next(p for p in await peer_regions(runtime.federation) if p.id == peer_id)
            result = await audit_peer(runtime.federation, _client(runtime, network), peer)
            assert (result.diverged, result.repaired) == (0, 0)

    assert await _tombstones(r1) == set(), "not brought back"
    assert ("domain", uuid) in await _tombstones(r2)


async def test_a_region_that_left_the_registry_no_longer_holds_collection_back(
    regions: list[Runtime],
) -> None:
    r1, r2, _r3 = regions
    await _pull_rounds(regions, regions)
    assert await _peer_vector(r1, 3) != {}
    async with as_admin(r1) as ctx:
        await remove_region(ctx, region_id=3)
    await _create_and_delete_domain(r1)
    await _pull_rounds([r1, r2], reachable=[r1, r2])

    result = await collect_garbage(r1.federation)

    assert result.tombstones == 2, "region 3's and the domain's"
    assert await log_entries(r1) == []
    assert await _peer_vector(r1, 3) == {}, "its old vector is forgotten"


def test_grace_and_interval_settings() -> None:
    with pytest.raises(ValidationError):
        Settings(tombstone_grace=-1)
    assert collection_interval(Settings(replication_interval=5)) == 60
    assert collection_interval(Settings(replication_interval=30)) == 300
