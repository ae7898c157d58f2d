"""Usage across regions: this region's records and every peer's, for one query.

Each peer is asked over the signed region-to-region channel (``POST USAGE_PATH`` with
the resolved ``UsageQuery``: the caller's rights are already turned into an account
UUID or a domain path, the same in every region). The peers are asked at once, each
with a timeout; a region that does not answer, or answers something else than records,
is reported as missing with the reason, never silently left out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Region, SystemValue
from altostratus.federation.peers import PeerClient, PeerError, base_url
from altostratus.federation.status import PeerRegion, read_peers
from altostratus.security.keyring import Keyring
from altostratus.services.identity.bootstrap import FEDERATION_KEY
from altostratus.services.usage.records import UsageEntry, UsageQuery, find_records

__all__ = ["USAGE_PATH", "Consolidated", "MissingRegion", "RegionUsage", "consolidated"]

USAGE_PATH = "/federation/v1/usage"


@dataclass(frozen=True)
class RegionUsage:
    """One region's answer."""

    region_id: int
    name: str
    entries: list[UsageEntry]


@dataclass(frozen=True)
class MissingRegion:
    region_id: int
    name: str
    reason: str


@dataclass(frozen=True)
class Consolidated:
    regions: list[RegionUsage]
    missing: list[MissingRegion]

    @property
    def entries(self) -> list[UsageEntry]:
        return [entry for region in self.regions for entry in region.entries]


async def consolidated(
    session: AsyncSession,
    keyring: Keyring,
    local_region_id: int,
    query: UsageQuery,
    *,
    peer_timeout: float,
) -> Consolidated:
    """This region's records and every reachable peer's; the others as missing."""
    local = RegionUsage(
        local_region_id,
        await _region_name(session, local_region_id),
        await find_records(session, query, local_region_id),
    )
    peers = await read_peers(session, local_region_id)
    if not peers:
        return Consolidated([local], [])
    key = await session.scalar(select(SystemValue.value).where(SystemValue.name == FEDERATION_KEY))
    if key is None:
        raise RuntimeError("this region has no federation key")
    client = PeerClient(bytes.fromhex(keyring.decrypt(key)), local_region_id, timeout=peer_timeout)
    try:
        answers = await asyncio.gather(*(_ask(client, peer, query) for peer in peers))
    finally:
        await client.close()
    return Consolidated(
        [local, *(a for a in answers if isinstance(a, RegionUsage))],
        [a for a in answers if isinstance(a, MissingRegion)],
    )


async def _ask(
    client: PeerClient, peer: PeerRegion, query: UsageQuery
) -> RegionUsage | MissingRegion:
    try:
        body = await client.request(
            "POST", base_url(peer.endpoint), USAGE_PATH, body=query.model_dump(mode="json")
        )
        entries = [UsageEntry.model_validate(item) for item in body["records"]]
    except PeerError as error:
        return MissingRegion(peer.id, peer.name, str(error))
    except (KeyError, TypeError, ValidationError) as error:
        return MissingRegion(peer.id, peer.name, f"unexpected answer: {error!r}"[:300])
    if any(entry.region_id != peer.id for entry in entries):
        return MissingRegion(peer.id, peer.name, "answered records of another region")
    return RegionUsage(peer.id, peer.name, entries)


async def _region_name(session: AsyncSession, region_id: int) -> str:
    name = await session.scalar(select(Region.name).where(Region.id == region_id))
    return name or f"Region {region_id}"
