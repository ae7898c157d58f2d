"""The puller and notifier end to end, in-process: region 2 pulls what region 1 did.

Regions 1 and 2 run as Runtimes on their own SQLite files (``tests.federation.support``);
each reaches the other's federation endpoints through an in-process transport, and
region 3 is registered but unreachable, as a region that is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, select

from altostratus.core.leases import hold_lease
from altostratus.core.worker import running
from altostratus.db.models import Domain, Region, SystemValue, User
from altostratus.federation.notifier import Notifier
from altostratus.federation.peers import PeerClient, base_url
from altostratus.federation.puller import PULLER_LEASE, Puller, peer_regions
from altostratus.federation.status import read_pull_status
from altostratus.runtime import Runtime
from altostratus.services.identity.domains import create_domain
from altostratus.services.identity.users import register_user_keys
from tests.federation.conftest import serve
from tests.federation.support import (
    as_admin,
    build_federation,
    dump,
    new_account,
    start_all,
    vector,
)
from tests.support.client import ApiClient

R2_ENDPOINT = "http://r2.invalid/client/api"


class Network(httpx.AsyncBaseTransport):
    """Routes requests to in-process regions by host; any other host is unreachable."""

    def __init__(self, regions: dict[str, Runtime]) -> None:
        self._routes = {
            httpx.URL(base_url(endpoint)).host: httpx.ASGITransport(app=serve(runtime))
            for endpoint, runtime in regions.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = self._routes.get(request.url.host)
        if route is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await route.handle_async_request(request)


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Regions 1 and 2 started; region 3 exists in the registry only."""
    settings = await build_federation(tmp_path, 3)
    first, second = await start_all(settings[:2])
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest.fixture
async def network(regions: tuple[Runtime, Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    first, second = regions
    transport = Network({first.settings.endpoint: first, R2_ENDPOINT: second})
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


def _puller(runtime: Runtime, network: httpx.AsyncClient, **options: int) -> Puller:
    client = PeerClient(runtime.federation_key, runtime.deps.local_region_id, http=network)
    return Puller(runtime.federation, client, **options)


async def _create_identities(runtime: Runtime) -> dict[str, str]:
    """A domain, an account and its user in ``runtime``; their UUIDs."""
    async with as_admin(runtime) as ctx:
        domain = await create_domain(
            ctx,
            name="emea",
            parent_uuid=ctx.caller.domain_uuid,
            network_domain=None,
            domain_uuid=None,
        )
        created = await new_account(ctx, "emea-ops", domain.domain.uuid, "dora")
        return {
            "domain": domain.domain.uuid,
            "account": created.account.uuid,
            "user": created.users[0].uuid,
        }


async def _admin_api(runtime: Runtime) -> ApiClient:
    """The root admin's signed client for ``runtime``'s API (keys are the same everywhere)."""
    async with runtime.db.transaction(write=False) as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        assert admin.api_key
        assert admin.secret_key_encrypted
        secret = runtime.deps.keyring.decrypt(admin.secret_key_encrypted)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=serve(runtime)), base_url="http://t")
    return ApiClient(http, admin.api_key, secret)


async def test_one_pull_brings_the_changes_with_their_uuids(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    first, second = regions
    uuids = await _create_identities(first)
    assert await dump(first) != await dump(second)

    tick = await _puller(second, network).run_once()

    assert str(tick).startswith("pulled ")
    assert "from 1 of 2 peers" in str(tick)
    assert "region 3 unreachable" in str(tick)
    assert await dump(first) == await dump(second)
    user = await _user(second, uuids["user"])
    async with second.db.transaction(write=False) as session:
        domain = await session.scalar(select(Domain).where(Domain.uuid == uuids["domain"]))
    assert user is not None
    assert user.username == "dora"
    assert domain is not None
    assert domain.path == "ROOT/emea"
    again = await _puller(second, network).run_once()
    assert str(again).startswith("pulled 0 entries from 1 of 2 peers, applied 0")


async def test_small_pages_bring_everything(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    first, second = regions
    await _create_identities(first)
    puller = _puller(second, network, page_size=2)
    peer = next(p for p in await peer_regions(second.federation) if p.id == 1)
    result = await puller.pull(peer)
    assert result.stored > 2, "more than one page"
    assert result.waiting == 0
    assert await dump(first) == await dump(second)


async def test_status_reports_reachable_and_unreachable_peers(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    first, second = regions
    await _create_identities(first)
    await _puller(second, network).run_once()
    api = await _admin_api(second)

    status = (await api.ok("listReplicationStatus"))["replicationstatus"]

    assert status["localregionid"] == 2
    assert status["pending"] == 0
    assert {"origin": 1, "seq": (await vector(first))[1]} in status["vector"]
    assert "lastaudit" not in status
    peers = {peer["regionid"]: peer for peer in status["peers"]}
    assert set(peers) == {1, 3}
    assert peers[1]["reachable"] is True
    assert peers[1]["lagseconds"] >= 0
    assert "lastsuccess" in peers[1]
    assert "lasterror" not in peers[1]
    assert peers[1]["entriespulled"] > 0
    assert peers[3]["reachable"] is False
    assert "r3.invalid" in peers[3]["lasterror"]
    assert "lastsuccess" not in peers[3]
    assert "lagseconds" not in peers[3]

    listed = {r["id"]: r for r in (await api.ok("listRegions"))["region"]}
    assert listed[1]["reachable"] is True
    assert listed[1]["replicationlag"] >= 0
    assert listed[3]["reachable"] is False
    assert "replicationlag" not in listed[3]
    assert "reachable" not in listed[2]
    assert "replicationlag" not in listed[2]


async def test_every_server_of_the_region_reports_the_pulls_any_of_them_made(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    """Behind a load balancer, listRegions may land on a server that does not hold the
    puller lease: it answers from the same status as the server that pulled."""
    first, second = regions
    await _create_identities(first)
    await _puller(second, network).run_once()
    other = await Runtime.start(second.settings)  # another server on region 2's database
    try:
        assert other.deps.server_id != second.deps.server_id
        listed = {r["id"]: r for r in (await (await _admin_api(other)).ok("listRegions"))["region"]}
        assert listed[1]["reachable"] is True
        assert 0 <= listed[1]["replicationlag"] < 60
        assert listed[3]["reachable"] is False
        await _puller(other, network).run_once({1})
        status = (await (await _admin_api(second)).ok("listReplicationStatus"))["replicationstatus"]
        peers = {peer["regionid"]: peer for peer in status["peers"]}
        assert peers[1]["entriespulled"] > 0
        assert peers[1]["reachable"] is True
    finally:
        await other.close()


async def test_a_region_that_leaves_the_registry_leaves_the_status(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    _first, second = regions
    await _puller(second, network).run_once()
    async with second.db.transaction() as session:
        assert set(await read_pull_status(session)) == {1, 3}
        await session.execute(delete(Region).where(Region.id == 3))
    await _puller(second, network).run_once()
    async with second.db.transaction(write=False) as session:
        assert set(await read_pull_status(session)) == {1}


async def test_status_shows_the_audit_results(regions: tuple[Runtime, Runtime]) -> None:
    _first, second = regions
    result = {"peer": 1, "time": "2026-01-01T00:00:00+0000", "diverged": 0, "repaired": 0}
    async with second.db.transaction() as session:
        session.add(SystemValue(name="audit:1", value=orjson.dumps(result).decode()))
    api = await _admin_api(second)
    status = (await api.ok("listReplicationStatus"))["replicationstatus"]
    assert status["lastaudit"] == [result]
    assert status["peers"][0].keys() == {"regionid", "name", "endpoint", "entriespulled"}


async def test_only_the_root_admin_sees_the_status(regions: tuple[Runtime, Runtime]) -> None:
    first, _second = regions
    uuids = await _create_identities(first)
    async with as_admin(first) as ctx:
        keys = await register_user_keys(ctx, user_uuid=uuids["user"])
    api = (await _admin_api(first)).with_keys(keys.api_key, keys.secret_key)
    await api.fails("listReplicationStatus", 531)


async def test_a_peer_that_refuses_our_signature_is_reported(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    _first, second = regions
    forged = Puller(second.federation, PeerClient(b"x" * 32, 2, http=network))
    tick = await forged.run_once({1})
    assert str(tick) == "pulled 0 entries from 0 of 1 peers, applied 0; region 1 unreachable"
    async with second.db.transaction(write=False) as session:
        status = (await read_pull_status(session))[1]
    assert not status.reachable
    assert status.last_error is not None
    assert "HTTP 401" in status.last_error


async def test_a_wake_up_pulls_at_once_and_metrics_follow(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    first, second = regions
    async with running([_puller(second, network)]):
        await asyncio.sleep(0.2)  # the first full pass; the next is 5 s away
        uuids = await _create_identities(first)
        second.deps.signals.peer_committed(1)
        assert await _user_arrives(second, uuids["user"])
    lag = REGISTRY.get_sample_value("altostratus_replication_lag_seconds", {"peer": "1"})
    assert lag is not None
    assert 0 <= lag < 5
    assert REGISTRY.get_sample_value("altostratus_replication_pending") == 0
    applied = REGISTRY.get_sample_value("altostratus_replication_entries_applied_total")
    assert applied is not None
    assert applied > 0


async def _user_arrives(runtime: Runtime, uuid: str) -> bool:
    """Whether the user replicates to ``runtime`` within two seconds."""
    for _ in range(100):
        if await _user(runtime, uuid) is not None:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_only_the_lease_holder_pulls_on_the_timer_but_any_server_follows_a_wake_up(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    """Two servers of one region: the one without the lease leaves the timer's pulls to
    the holder, yet pulls at once when a peer's notification lands on it."""
    first, second = regions
    uuids = await _create_identities(first)
    async with second.db.transaction() as session:
        assert await hold_lease(session, PULLER_LEASE, "another-server", 60.0)
    async with running([_puller(second, network)]):
        await asyncio.sleep(0.5)  # a full pass would have pulled by now
        assert await _user(second, uuids["user"]) is None
        second.deps.signals.peer_committed(1)
        assert await _user_arrives(second, uuids["user"])


async def test_a_commit_notifies_every_peer(
    regions: tuple[Runtime, Runtime], network: httpx.AsyncClient
) -> None:
    first, second = regions
    client = PeerClient(first.federation_key, 1, http=network)
    notifier = Notifier(first.federation, client, delay=0.01)
    first.outbox.on_commit = notifier.committed
    try:
        async with running([notifier]):
            await _create_identities(first)
            woken = await second.deps.signals.wait_for_peers(5)
    finally:
        first.outbox.on_commit = None
    assert woken == {1}
    assert await notifier.notify_peers() == 1, "region 2 takes it, region 3 is down"


async def _user(runtime: Runtime, uuid: str) -> User | None:
    async with runtime.db.transaction(write=False) as session:
        return await session.scalar(select(User).where(User.uuid == uuid))
