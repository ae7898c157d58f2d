"""Garbage collection: forget the log entries and tombstones that every region has.

A region keeps every origin's entries so it can pass them on to a region that missed
them, and a tombstone for every deleted key so that an old state arriving late cannot
bring the entity back. Both can go once every region has stored them. Each pull records
the peer's answered vector (``peer_vectors``); with our own vector, the minimum over
every region in the registry is the *horizon*: per origin, the seq up to which every
region holds the entries. Vectors only grow, so an old answer is a safe underestimate.
A region whose vector we do not know yet (it joined, and we have not pulled from it)
stops collection altogether.

* Applied entries at or below the horizon are deleted. A region that joins later gets a
  snapshot, and a region asking beyond what we have collected gets a gap it refuses
  (``store_entries`` only takes the next seq) and fills from another peer.
* A tombstone goes once its version (the highest seen for its key) is at or below the
  horizon *and* older than ``tombstone_grace``: an update made elsewhere before that
  region learnt of the delete may still be on its way, and the grace period is how long
  it is allowed to take.

Unapplied entries, live ``entity_versions`` rows and the vectors themselves are never
touched (the local origin's vector row is also its seq counter).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session

from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.models import (
    EntityVersion,
    PeerVector,
    Region,
    ReplicationEntry,
    ReplicationVector,
)
from altostratus.db.rows import rowcount
from altostratus.federation.apply import serialise_appliers
from altostratus.federation.context import Federation
from altostratus.federation.hlc import Version
from altostratus.settings import Settings

__all__ = [
    "GC_LEASE",
    "Collected",
    "Collector",
    "Horizon",
    "collect",
    "collect_garbage",
    "collection_interval",
    "read_horizon",
    "record_peer_vector",
]

GC_LEASE = "federation-gc"


def record_peer_vector(session: Session, region_id: int, vector: Mapping[int, int]) -> None:
    """Replace what we know of ``region_id``'s vector with its latest answer.

    Called by the puller in the transaction that stores the answered page, after it took
    the applier lock, so two servers of this region never interleave here.
    """
    session.execute(delete(PeerVector).where(PeerVector.region_id == region_id))
    if vector:
        session.execute(
            insert(PeerVector),
            [{"region_id": region_id, "origin": o, "seq": s} for o, s in vector.items()],
        )


@dataclass(frozen=True)
class Horizon:
    #: Per origin, the highest seq that every region has stored.
    seqs: dict[int, int]
    #: Registered regions whose vector is not known here; while any is, nothing is collected.
    unknown: tuple[int, ...]

    def covers(self, origin: int, seq: int) -> bool:
        return not self.unknown and seq <= self.seqs.get(origin, 0)


def read_horizon(session: Session, local_region_id: int) -> Horizon:
    regions = list(session.scalars(select(Region.id).order_by(Region.id)))
    known: dict[int, dict[int, int]] = {}
    for row in session.scalars(select(PeerVector).where(PeerVector.region_id.in_(regions))):
        known.setdefault(row.region_id, {})[row.origin] = row.seq
    known[local_region_id] = {
        row.origin: row.seq for row in session.scalars(select(ReplicationVector))
    }
    unknown = tuple(region for region in regions if region not in known)
    if unknown:
        return Horizon({}, unknown)
    vectors = [known[region] for region in regions]
    origins = set().union(*vectors)
    return Horizon({o: min(v.get(o, 0) for v in vectors) for o in origins}, ())


@dataclass(frozen=True)
class Collected:
    """What one collection removed; its sentence is the worker's log line."""

    entries: int
    tombstones: int
    #: Regions whose unknown vector stopped the collection.
    unknown: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.unknown:
            regions = ", ".join(str(region) for region in self.unknown)
            return f"nothing removed: the vector of region {regions} is not known yet"
        return f"removed {self.entries} log entries and {self.tombstones} tombstones"


def collect(session: Session, local_region_id: int, grace: float, now: float) -> Collected:
    """Delete what every region has: see the module's rules. ``now`` is epoch seconds."""
    # Forget the vectors of regions that left the registry: one that comes back under
    # the same id must not be taken to hold what its former self held.
    session.execute(delete(PeerVector).where(PeerVector.region_id.not_in(select(Region.id))))
    horizon = read_horizon(session, local_region_id)
    if horizon.unknown:
        return Collected(0, 0, horizon.unknown)
    return Collected(
        _collect_entries(session, horizon), _collect_tombstones(session, horizon, now - grace)
    )


def _collect_entries(session: Session, horizon: Horizon) -> int:
    stable = [
        and_(ReplicationEntry.origin == origin, ReplicationEntry.seq <= seq)
        for origin, seq in horizon.seqs.items()
        if seq > 0
    ]
    if not stable:
        return 0
    result = session.execute(
        delete(ReplicationEntry).where(ReplicationEntry.applied.is_(True), or_(*stable))
    )
    return rowcount(result)


def _collect_tombstones(session: Session, horizon: Horizon, cutoff: float) -> int:
    """Delete the tombstones every region has that were written before ``cutoff``."""
    cutoff_ms = cutoff * 1000
    stale = []
    for entity_type, key, version in session.execute(
        select(EntityVersion.entity_type, EntityVersion.entity_key, EntityVersion.version).where(
            EntityVersion.deleted.is_(True)
        )
    ):
        decoded = Version.decode(version)
        if decoded.physical_ms <= cutoff_ms and horizon.covers(decoded.origin, decoded.seq):
            stale.append({"entity_type": entity_type, "entity_key": key, "version": version})
    if stale:
        # Only the row judged: a tombstone whose version rose meanwhile is judged next time.
        session.connection().execute(
            delete(EntityVersion).where(
                EntityVersion.entity_type == bindparam("entity_type"),
                EntityVersion.entity_key == bindparam("entity_key"),
                EntityVersion.version == bindparam("version"),
                EntityVersion.deleted.is_(True),
            ),
            stale,
        )
    return len(stale)


async def collect_garbage(federation: Federation) -> Collected:
    """One collection in this region, with its ``tombstone_grace``."""
    grace = federation.settings.tombstone_grace
    local = federation.deps.local_region_id
    async with federation.db.transaction() as session:
        # The puller and the audit write the same rows; take turns with them.
        await serialise_appliers(session)
        return await session.run_sync(lambda s: collect(s, local, grace, time.time()))


def collection_interval(settings: Settings) -> float:
    """Often enough to keep the log short, rarely enough to cost nothing."""
    return max(settings.replication_interval * 10, 60.0)


class Collector:
    """A worker (``core.worker``) under the region's collection lease: the servers of a
    region hold the same rows, so one of them collecting is enough."""

    name = GC_LEASE
    wake_up = None
    run_at_start = False

    def __init__(self, federation: Federation) -> None:
        self._federation = federation
        self.interval = collection_interval(federation.settings)
        self.lease = LeaseHolder(
            federation.db, GC_LEASE, federation.deps.server_id, 1.5 * self.interval
        )

    async def tick(self) -> Tick:
        collected = await collect_garbage(self._federation)
        news = collected.entries or collected.tombstones or collected.unknown
        return Tick(str(collected), changed=bool(news))
