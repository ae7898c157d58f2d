"""``GET /federation/v1/log``: every origin's entries beyond the caller's vector, in pages."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from altostratus.federation.apply import store_entries
from altostratus.federation.log import LOG_PATH, MAX_LIMIT, format_vector, parse_vector
from altostratus.federation.peers import PeerClient, PeerError
from altostratus.runtime import Runtime
from tests.support.client import ApiClient
from tests.support.world import Identity

BASE = "http://testserver"


@pytest.fixture
def peer(region: Runtime, region_http: httpx.AsyncClient) -> PeerClient:
    """Region 2 asking the served region (signed with the shared federation key)."""
    return PeerClient(region.federation_key, 2, http=region_http)


async def _log(peer: PeerClient, after: dict[int, int], limit: int = MAX_LIMIT) -> dict[str, Any]:
    params = {"after": format_vector(after), "limit": str(limit)}
    answer: dict[str, Any] = await peer.request("GET", BASE, LOG_PATH, params=params)
    return answer


def _positions(page: dict[str, Any]) -> list[tuple[int, int]]:
    return [(entry["origin"], entry["seq"]) for entry in page["entries"]]


async def _receive_from_region_3(region: Runtime, count: int) -> None:
    """Store (not apply) ``count`` entries of origin 3, as if pulled from region 3."""
    wire = [
        {
            "origin": 3,
            "seq": seq,
            "entity_type": "region",
            "entity_key": "3",
            "version": f"v{seq}",
            "payload": None,
        }
        for seq in range(1, count + 1)
    ]
    async with region.db.transaction(replicating=True) as session:
        await session.run_sync(lambda s: store_entries(s, wire))


async def test_everything_from_an_empty_vector_in_order_with_the_vector(
    region: Runtime, peer: PeerClient
) -> None:
    await _receive_from_region_3(region, 2)
    page = await _log(peer, {})
    positions = _positions(page)
    own = [seq for origin, seq in positions if origin == 1]
    assert own, "the seeded world's changes are logged"
    assert own == list(range(1, len(own) + 1))
    assert positions == sorted(positions)
    assert positions[-2:] == [(3, 1), (3, 2)]
    assert page["vector"] == {"1": len(own), "3": 2}
    assert page["more"] is False


async def test_pages_follow_the_vector_to_the_end(region: Runtime, peer: PeerClient) -> None:
    await _receive_from_region_3(region, 4)
    everything = _positions(await _log(peer, {}))
    seen: list[tuple[int, int]] = []
    after: dict[int, int] = {}
    pages = 0
    while True:
        page = await _log(peer, after, limit=3)
        pages += 1
        assert len(page["entries"]) <= 3
        seen += _positions(page)
        after.update({origin: seq for origin, seq in _positions(page)})
        if not page["more"]:
            break
        assert len(page["entries"]) == 3
    assert seen == everything
    assert pages == -(-len(everything) // 3)


async def test_listed_origins_resume_after_their_seq_unlisted_start_from_zero(
    region: Runtime, peer: PeerClient
) -> None:
    await _receive_from_region_3(region, 3)
    own = (await _log(peer, {}))["vector"]["1"]
    assert _positions(await _log(peer, {1: own})) == [(3, 1), (3, 2), (3, 3)]
    assert _positions(await _log(peer, {1: own, 3: 1})) == [(3, 2), (3, 3)]
    assert _positions(await _log(peer, {1: own - 1, 3: 3})) == [(1, own)]
    assert _positions(await _log(peer, {1: own, 3: 3, 7: 40})) == []


async def test_an_identity_change_is_served_at_once(
    region: Runtime,
    region_http: httpx.AsyncClient,
    peer: PeerClient,
    identities: dict[str, Identity],
) -> None:
    before = (await _log(peer, {}))["vector"]
    admin = identities["admin"]
    api = ApiClient(region_http, admin.api_key, admin.secret_key)
    domain = (await api.ok("createDomain", name="emea"))["domain"]
    page = await _log(peer, {int(origin): seq for origin, seq in before.items()})
    changes = [entry for entry in page["entries"] if entry["entity_type"] == "domain"]
    assert [entry["entity_key"] for entry in changes] == [domain["id"]]
    assert orjson.loads(changes[0]["payload"])["name"] == "emea"
    assert all(entry["origin"] == 1 for entry in page["entries"])


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"after": "1-5"}, "not <origin>:<seq>"),
        ({"after": "1:x"}, "not <origin>:<seq>"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    peer: PeerClient, params: dict[str, str], text: str
) -> None:
    with pytest.raises(PeerError, match="HTTP 400") as refused:
        await peer.request("GET", BASE, LOG_PATH, params=params)
    assert text in str(refused.value)


def test_vector_text_round_trips() -> None:
    assert format_vector({2: 9, 1: 5}) == "1:5,2:9"
    assert parse_vector("1:5,2:9") == {1: 5, 2: 9}
    assert parse_vector("") == {}
