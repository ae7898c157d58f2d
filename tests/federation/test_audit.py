"""The audit: digests, the peer endpoints, and repairs of a region that drifted from the log.

Two in-process regions on SQLite (``tests.federation.support``) serve the audit routes
through ASGI transports; drift is made with replicating transactions, which change rows
without writing the log (as a bug, or an operator with ``psql``, would).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from starlette.applications import Starlette

from altostratus.api.federation.audit import audit_routes
from altostratus.db.models import (
    Account,
    Domain,
    EntityVersion,
    Event,
    ReplicationEntry,
    User,
)
from altostratus.federation.audit import (
    DIGEST_PATH,
    ENTITIES_PATH,
    AuditResult,
    audit_peer,
    audit_tick,
)
from altostratus.federation.entities import SPECS
from altostratus.federation.peers import PeerClient, PeerError, base_url
from altostratus.federation.status import PeerRegion, read_stored_state
from altostratus.runtime import Runtime
from altostratus.settings import Settings
from tests.federation.support import build_federation, copy_federation, dump, exchange, start_all
from tests.support.world import seed_world

R2_ENDPOINT = "http://r2.invalid/client/api"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> list[Settings]:
    """Two stopped regions that know each other and hold the seeded world."""

    async def seed(runtime: Runtime) -> None:
        await seed_world(runtime)

    return asyncio.run(build_federation(tmp_path_factory.mktemp("audit"), 2, seed))


@pytest.fixture
async def regions(template: list[Settings], tmp_path: Path) -> AsyncIterator[list[Runtime]]:
    runtimes = await start_all(copy_federation(template, tmp_path))
    yield runtimes
    for runtime in runtimes:
        await runtime.close()


@pytest.fixture
async def r1(regions: list[Runtime]) -> Runtime:
    return regions[0]


@pytest.fixture
async def r2(regions: list[Runtime]) -> Runtime:
    return regions[1]


def _app(runtime: Runtime) -> Starlette:
    app = Starlette(routes=audit_routes())
    app.state.runtime = runtime
    return app


@pytest.fixture
async def network(regions: list[Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to both regions' audit routes (their registered endpoints)."""
    r1, r2 = regions
    mounts = {
        base_url(r1.settings.endpoint): httpx.ASGITransport(app=_app(r1)),
        base_url(R2_ENDPOINT): httpx.ASGITransport(app=_app(r2)),
    }
    async with httpx.AsyncClient(mounts=mounts) as client:
        yield client


@pytest.fixture
def peer_client(network: httpx.AsyncClient) -> Callable[[Runtime], PeerClient]:
    """A region's signing client, reaching the other region through ``network``."""

    def make(runtime: Runtime) -> PeerClient:
        return PeerClient(runtime.federation_key, runtime.deps.local_region_id, http=network)

    return make


def _as_peer(runtime: Runtime) -> PeerRegion:
    """How the other region's registry knows ``runtime``."""
    region_id = runtime.deps.local_region_id
    endpoint = runtime.settings.endpoint if region_id == 1 else R2_ENDPOINT
    return PeerRegion(region_id, f"R{region_id}", endpoint)


async def _audit(runtime: Runtime, peer: Runtime, client: PeerClient) -> AuditResult:
    return await audit_peer(runtime.federation, client, _as_peer(peer))


async def _digest(client: PeerClient, peer: Runtime) -> dict[str, str]:
    base = base_url(_as_peer(peer).endpoint)
    answer: dict[str, dict[str, str]] = await client.request("GET", base, DIGEST_PATH)
    return answer["types"]


async def _change_behind_log(runtime: Runtime, username: str, **values: Any) -> None:
    async with runtime.db.transaction(replicating=True) as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)


async def _user(runtime: Runtime, username: str) -> User | None:
    async with runtime.db.transaction(write=False) as session:
        return await session.scalar(select(User).where(User.username == username))


async def _events(runtime: Runtime, event_type: str) -> list[Event]:
    async with runtime.db.transaction(write=False) as session:
        return list(await session.scalars(select(Event).where(Event.type == event_type)))


async def _log_length(runtime: Runtime) -> int:
    async with runtime.db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(ReplicationEntry)) or 0)


async def test_identical_regions_agree_and_nothing_is_repaired(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    c1, c2 = peer_client(r1), peer_client(r2)
    assert await _digest(c1, r2) == await _digest(c2, r1)
    assert set(await _digest(c1, r2)) == {spec.name for spec in SPECS}
    before = await dump(r2)

    result = await _audit(r2, r1, c2)

    assert (result.peer, result.types_compared, result.diverged, result.repaired) == (
        1,
        len(SPECS),
        0,
        0,
    )
    assert await dump(r2) == before
    assert await _events(r2, "FEDERATION.AUDIT") == []
    async with r2.db.transaction(write=False) as session:
        stored = await read_stored_state(session)
    assert stored.audits == [
        {
            "peer": 1,
            "time": result.time,
            "types_compared": len(SPECS),
            "diverged": 0,
            "repaired": 0,
            "in_flight": 0,
        }
    ]


@pytest.mark.parametrize(
    ("drifted", "winner"),
    [("Zed", "Alice"), ("Aaron", "Aaron")],
    ids=["original-wins", "drifted-wins"],
)
async def test_a_row_changed_behind_the_log_converges_when_both_audit(
    r1: Runtime,
    r2: Runtime,
    peer_client: Callable[[Runtime], PeerClient],
    drifted: str,
    winner: str,
) -> None:
    """Equal versions, different states: both keep the lower payload, whoever audits first."""
    c1, c2 = peer_client(r1), peer_client(r2)
    log_before = await _log_length(r2)
    await _change_behind_log(r2, "alice", firstname=drifted)
    d1, d2 = await _digest(c2, r1), await _digest(c1, r2)
    assert [name for name in d1 if d1[name] != d2[name]] == ["user"]

    first = await _audit(r1, r2, c1)
    second = await _audit(r2, r1, c2)

    assert first.diverged == 1
    assert first.repaired + second.repaired == 1
    assert await _digest(c1, r2) == await _digest(c2, r1)
    assert await dump(r1) == await dump(r2)
    for runtime in (r1, r2):
        alice = await _user(runtime, "alice")
        assert alice is not None
        assert alice.firstname == winner
    # The repair is not a change of its own: nothing new in the log.
    assert await _log_length(r2) == log_before
    # Each audit that found the difference says so, once.
    for runtime, result in ((r1, first), (r2, second)):
        events = await _events(runtime, "FEDERATION.AUDIT")
        assert [e.level for e in events] == (["WARN"] if result.diverged else [])


async def test_entities_missing_in_one_region_are_restored_parents_first(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    """ROOT/d1/sub, carol's account and carol vanish from region 2, log and versions too."""
    c1, c2 = peer_client(r1), peer_client(r2)
    expected = await dump(r1)
    async with r2.db.transaction(replicating=True) as session:
        carol = await session.scalar(select(User).where(User.username == "carol"))
        assert carol is not None
        account = await session.get(Account, carol.account_id)
        domain = await session.get(Domain, carol.domain_id)
        assert account is not None
        assert domain is not None
        keys = [carol.uuid, account.uuid, domain.uuid]
        await session.delete(carol)
        await session.flush()
        await session.delete(account)
        await session.flush()
        await session.delete(domain)
        await session.execute(delete(EntityVersion).where(EntityVersion.entity_key.in_(keys)))
    assert await _user(r2, "carol") is None

    result = await _audit(r2, r1, c2)

    assert (result.diverged, result.repaired, result.in_flight) == (3, 3, 0)
    assert await dump(r2) == expected
    restored = await _user(r2, "carol")
    assert restored is not None
    assert restored.uuid == keys[0]
    assert await _digest(c1, r2) == await _digest(c2, r1)
    events = await _events(r2, "FEDERATION.AUDIT")
    assert len(events) == 1
    assert "3 entities diverged, 3 repaired" in events[0].description
    # Region 1 had nothing wrong: its audit of region 2 now finds nothing either.
    assert (await _audit(r1, r2, c1)).diverged == 0


async def test_changes_still_travelling_through_the_log_are_not_divergence(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    c1, c2 = peer_client(r1), peer_client(r2)
    async with r1.db.transaction() as session:  # a logged change region 2 has not pulled
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
        alice.lastname = "Changed"

    result = await _audit(r2, r1, c2)

    assert (result.diverged, result.repaired, result.in_flight) == (0, 0, 1)
    assert "1 in flight" in result.sentence()
    alice_in_r2 = await _user(r2, "alice")
    assert alice_in_r2 is not None
    assert alice_in_r2.lastname == "Test"
    assert await _events(r2, "FEDERATION.AUDIT") == []
    await exchange(r1, r2)
    assert await _digest(c1, r2) == await _digest(c2, r1)


async def test_a_newer_state_the_log_already_delivered_is_restored(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    """Region 2 received region 1's update, then lost it behind the log: the peer's wins."""
    c2 = peer_client(r2)
    async with r1.db.transaction() as session:
        bob = await session.scalar(select(User).where(User.username == "bob"))
        assert bob is not None
        bob.email = "bob@new.example.org"
    await exchange(r1, r2)
    async with r1.db.transaction(write=False) as session:
        newer = await session.scalar(
            select(EntityVersion.version).where(EntityVersion.entity_key == bob.uuid)
        )
    async with r2.db.transaction(replicating=True) as session:
        await session.execute(delete(EntityVersion).where(EntityVersion.entity_key == bob.uuid))
    await _change_behind_log(r2, "bob", email="bob@example.org")

    result = await _audit(r2, r1, c2)

    assert (result.diverged, result.repaired) == (1, 1)
    bob_in_r2 = await _user(r2, "bob")
    assert bob_in_r2 is not None
    assert bob_in_r2.email == "bob@new.example.org"
    async with r2.db.transaction(write=False) as session:
        version = await session.scalar(
            select(EntityVersion.version).where(EntityVersion.entity_key == bob.uuid)
        )
    assert version == newer
    assert await dump(r1) == await dump(r2)


async def test_audit_tick_reports_each_peer_in_one_sentence(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    assert await audit_tick(r1.federation, peer_client(r1)) == f"region 2: {len(SPECS)} types agree"
    await _change_behind_log(r1, "bob", firstname="Aaron")
    assert (
        await audit_tick(r2.federation, peer_client(r2))
        == "region 1: 1 entities diverged, 1 repaired here"
    )


async def test_an_unreachable_peer_is_reported_not_raised(r1: Runtime) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = PeerClient(r1.federation_key, 1, http=http)
        sentence = await audit_tick(r1.federation, client)
    assert sentence.startswith("region 2: not audited (")
    async with r1.db.transaction(write=False) as session:
        assert (await read_stored_state(session)).audits == []


@pytest.mark.parametrize(("path", "params"), [(DIGEST_PATH, {}), (ENTITIES_PATH, {"type": "user"})])
async def test_unsigned_or_forged_requests_are_refused(
    r2: Runtime, network: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    base = base_url(R2_ENDPOINT)
    unsigned = await network.get(base + path, params=params)
    assert unsigned.status_code == 401
    assert "signature" in unsigned.json()["error"]
    forger = PeerClient(b"not the federation key, but 32 b", 1, http=network)
    with pytest.raises(PeerError, match="HTTP 401"):
        await forger.request("GET", base, path, params=params)


async def test_entities_lists_every_entity_of_a_type_with_its_version(
    r1: Runtime, r2: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    base = base_url(R2_ENDPOINT)
    answer = await peer_client(r1).request("GET", base, ENTITIES_PATH, params={"type": "user"})
    by_name = {orjson.loads(e["payload"])["username"]: e for e in answer["entities"]}
    assert set(by_name) == {"admin", "d1admin", "alice", "carol", "bob"}
    alice = by_name["alice"]
    assert alice["deleted"] is False
    assert alice["version"]
    assert orjson.loads(alice["payload"])["account"] is not None  # a key, not a local id


async def test_an_unknown_type_is_a_bad_request(
    r1: Runtime, peer_client: Callable[[Runtime], PeerClient]
) -> None:
    with pytest.raises(PeerError, match=r"HTTP 400.*type: must be one of"):
        await peer_client(r1).request(
            "GET", base_url(R2_ENDPOINT), ENTITIES_PATH, params={"type": "zone"}
        )


def test_audit_interval_is_at_least_one_second() -> None:
    assert Settings().audit_interval == 300.0
    with pytest.raises(ValidationError, match="audit_interval"):
        Settings(audit_interval=0.5)
