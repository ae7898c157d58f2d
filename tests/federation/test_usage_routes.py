"""``POST /federation/v1/usage``: a peer's query answered with this region's records,
only when signed with the federation key."""

from __future__ import annotations

import httpx
import pytest

from altostratus.federation.peers import PeerClient, PeerError
from altostratus.federation.usage import USAGE_PATH
from altostratus.runtime import Runtime
from altostratus.services.usage.types import UsageType
from tests.api.usage.day import at
from tests.api.usage.records import owner_of, record, write_records
from tests.support.world import Identity

BASE = "http://testserver"
QUERY = {"start": at(0).isoformat(), "end": at(24).isoformat()}


@pytest.fixture
async def metered(region: Runtime, identities: dict[str, Identity]) -> dict[str, Identity]:
    await write_records(
        region.db,
        (
            record(owner_of(identities[who]), UsageType.RUNNING_VM, uuid, at(8), 1.0)
            for who, uuid in (
                ("alice", "00000000-0000-4000-8000-000000000001"),
                ("bob", "00000000-0000-4000-8000-000000000002"),
            )
        ),
    )
    return identities


async def test_a_signed_query_gets_the_records_it_selects(
    region: Runtime, region_http: httpx.AsyncClient, metered: dict[str, Identity]
) -> None:
    peer = PeerClient(region.federation_key, 2, http=region_http)
    alice = metered["alice"]
    body = {**QUERY, "account_uuid": alice.account_id}
    answer = await peer.request("POST", BASE, USAGE_PATH, body=body)
    (entry,) = answer["records"]
    assert entry["account_uuid"] == alice.account_id
    assert entry["region_id"] == 1
    assert entry["raw_usage"] == 1.0
    everyone = await peer.request("POST", BASE, USAGE_PATH, body=QUERY)
    assert len(everyone["records"]) == 2
    with pytest.raises(PeerError, match="400"):
        await peer.request("POST", BASE, USAGE_PATH, body={"start": "never"})


async def test_an_unsigned_or_forged_query_is_refused(
    region_http: httpx.AsyncClient, metered: dict[str, Identity]
) -> None:
    unsigned = await region_http.post(USAGE_PATH, json=QUERY)
    assert unsigned.status_code == 401
    forged = PeerClient(b"\x00" * 32, 2, http=region_http)
    with pytest.raises(PeerError, match="401"):
        await forged.request("POST", BASE, USAGE_PATH, body=QUERY)
