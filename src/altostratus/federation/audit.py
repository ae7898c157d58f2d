"""The audit: find where a peer region's global tables and ours disagree, and repair ours.

The log is meant to make every region hold the same global entities; the audit checks
that it did. Per entity type, each region hashes every entity's (key, version, deleted,
hash of the live row's replicated payload), so an entry that never arrived and a row
changed behind the log's back both show. Where a type's digests differ, we fetch the
peer's entities of that type and compare them one by one:

* The peer holds a higher version: we apply the peer's state (``apply_state``; not
  logged, every region audits every peer). Unless that version is still on its way to
  us through the log (its origin's seq is beyond our vector, or it waits here for what it
  refers to): that is replication lag, not divergence, and the log will deliver it.
* Equal versions, different states (a row changed behind the log): both regions keep
  the state that ranks lower: a tombstone before a live row (deletes win, as when
  applying the log), a live row before no row, two live rows by their canonical JSON
  payload (string order). Both sides compute the same rank, so whichever audits
  first, both end on the same state.
* We hold the higher version: nothing here; the peer repairs from us when it audits.
* The peer holds a tombstone for a key we know nothing of: we collected it
  (``federation.gc``) and the peer has not yet. No state differs; nothing to do.
* A row without any version (written before the outbox existed, e.g. bootstrap rows,
  or by hand) is reported as diverged but never copied: there is no version to order it.

Divergence that is not lag means a bug; the audit records a ``FEDERATION.AUDIT`` event
(level WARN) and, every time, writes its result to ``system_values`` ``audit:<peer>``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.models import (
    EntityVersion,
    ReplicationEntry,
    ReplicationVector,
    SystemValue,
)
from altostratus.db.upsert import insert_for
from altostratus.federation.apply import apply_state, record_system_event, serialise_appliers
from altostratus.federation.context import Federation
from altostratus.federation.entities import SPECS, EntitySpec
from altostratus.federation.hlc import HybridClock, Version
from altostratus.federation.peers import PeerClient, PeerError, base_url
from altostratus.federation.puller import peer_regions
from altostratus.federation.status import AUDIT_PREFIX, PeerRegion
from altostratus.timeutil import format_timestamp, utcnow

__all__ = [
    "AUDIT_LEASE",
    "DIGEST_PATH",
    "ENTITIES_PATH",
    "AuditResult",
    "Auditor",
    "EntityState",
    "audit_peer",
    "audit_tick",
    "digests",
    "entity_states",
]

log = logging.getLogger(__name__)

AUDIT_LEASE = "federation-audit"

DIGEST_PATH = "/federation/v1/digest"
ENTITIES_PATH = "/federation/v1/entities"


@dataclass(frozen=True)
class EntityState:
    """One entity as a region holds it; ``version`` is ``""`` when it was never logged."""

    key: str
    version: str
    deleted: bool
    #: Canonical JSON of the live row's replicated columns; ``None`` when there is no row.
    payload: str | None

    @classmethod
    def absent(cls, key: str) -> EntityState:
        return cls(key, "", False, None)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> EntityState:
        payload = wire["payload"]
        return cls(str(wire["key"]), str(wire["version"]), bool(wire["deleted"]), payload)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    def digest_line(self) -> str:
        state = hashlib.sha256((self.payload or "").encode()).hexdigest()
        return f"{self.key}\t{self.version}\t{int(self.deleted)}\t{state}\n"

    def same_as(self, other: EntityState) -> bool:
        return (self.version, self.deleted, self.payload) == (
            other.version,
            other.deleted,
            other.payload,
        )

    def rank(self) -> tuple[int, str]:
        """Lower wins an equal-version conflict: a tombstone (deletes win, as in
        ``federation.apply``), then a live row, then a hole."""
        if self.deleted:
            return (0, "")
        return (1, self.payload) if self.payload is not None else (2, "")


def _canonical(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()


def entity_states(session: Session, spec: EntitySpec) -> dict[str, EntityState]:
    """Every entity of ``spec``'s type here: each live row and each recorded version."""
    # Columns, not ORM objects: ``apply_state`` upserts versions with plain SQL, which
    # would leave loaded EntityVersion objects stale for the rest of the transaction.
    versions = {
        key: (version, deleted)
        for key, version, deleted in session.execute(
            select(EntityVersion.entity_key, EntityVersion.version, EntityVersion.deleted).where(
                EntityVersion.entity_type == spec.name
            )
        )
    }
    # Load what the payloads refer to in one query each; the identity map keeps them only
    # while something holds them.
    referenced = [list(session.scalars(select(ref.target))) for ref in spec.references.values()]
    # Regional rows of a global table (project accounts) are no other region's business.
    local = session.scalars(select(spec.model).where(spec.replicated())).unique()
    rows = {spec.key_of(row): row for row in local}
    states = {}
    for key in versions.keys() | rows.keys():
        version, deleted = versions.get(key, ("", False))
        row = rows.get(key)
        payload = None if row is None else _canonical(spec.to_payload(session, row))
        states[key] = EntityState(key, version, deleted, payload)
    del referenced
    return states


def digests(session: Session) -> dict[str, str]:
    """Per entity type, the SHA-256 of its entities' sorted digest lines."""
    result = {}
    for spec in SPECS:
        states = entity_states(session, spec)
        digest = hashlib.sha256()
        for key in sorted(states):
            digest.update(states[key].digest_line().encode())
        result[spec.name] = digest.hexdigest()
    return result


@dataclass(frozen=True)
class AuditResult:
    """What one audit of one peer found; stored as JSON for ``listReplicationStatus``."""

    peer: int
    time: str
    types_compared: int
    #: Entities whose state here was wrong (or unorderable), lag excluded.
    diverged: int
    #: Entities whose state here the audit replaced with the peer's.
    repaired: int
    #: Differences the log is still delivering (not counted as diverged).
    in_flight: int

    def sentence(self) -> str:
        if self.diverged == 0:
            text = f"region {self.peer}: {self.types_compared} types agree"
        else:
            text = (
                f"region {self.peer}: {self.diverged} entities diverged, "
                f"{self.repaired} repaired here"
            )
        return text + (f" ({self.in_flight} in flight)" if self.in_flight else "")


@dataclass
class _Comparison:
    diverged: int = 0
    in_flight: int = 0
    repaired: int = 0


def _in_flight(session: Session, vector: dict[int, int], version: str) -> bool:
    """The log has not brought this version here yet, or it waits here to be applied."""
    decoded = Version.decode(version)
    if decoded.seq > vector.get(decoded.origin, 0):
        return True
    entry = session.get(ReplicationEntry, (decoded.origin, decoded.seq))
    return entry is not None and not entry.applied


def _repair(
    session: Session, clock: HybridClock, peer_states: dict[str, dict[str, EntityState]]
) -> _Comparison:
    """Compare the peer's entities with ours and take the peer's state where it wins."""
    vector = {row.origin: row.seq for row in session.scalars(select(ReplicationVector))}
    outcome = _Comparison()
    todo: list[tuple[EntitySpec, EntityState]] = []
    for spec in SPECS:  # references first: regions, roles, domains, accounts, users
        if spec.name not in peer_states:
            continue
        ours = entity_states(session, spec)
        theirs = peer_states[spec.name]
        for key in sorted(ours.keys() | theirs.keys()):
            mine = ours.get(key) or EntityState.absent(key)
            peer = theirs.get(key) or EntityState.absent(key)
            if mine.same_as(peer) or mine.version > peer.version:
                continue
            if peer.version > mine.version and _in_flight(session, vector, peer.version):
                outcome.in_flight += 1
                continue
            if peer.deleted and mine == EntityState.absent(key):
                continue  # we collected this tombstone (``federation.gc``); the peer not yet
            outcome.diverged += 1
            if peer.version > mine.version or (peer.version and peer.rank() < mine.rank()):
                todo.append((spec, peer))
    for _spec, state in todo:
        clock.observe(Version.decode(state.version))
    # A parent domain may come after its child in key order: retry until no progress.
    with session.no_autoflush:
        while todo:
            waiting = [
                (spec, state)
                for spec, state in todo
                if not apply_state(session, spec, state.key, state.version, state.payload)
            ]
            outcome.repaired += len(todo) - len(waiting)
            if len(waiting) == len(todo):
                break
            todo = waiting
    session.flush()
    return outcome


def _save(session: Session, result: AuditResult) -> None:
    """Upsert ``audit:<peer>``; several servers of a region may audit at the same time."""
    value = orjson.dumps(asdict(result)).decode()
    session.execute(
        insert_for(session, SystemValue)
        .values(name=f"{AUDIT_PREFIX}{result.peer}", value=value)
        .on_conflict_do_update(index_elements=["name"], set_={"value": value})
    )
    if result.diverged:
        record_system_event(
            session,
            "FEDERATION.AUDIT",
            f"Audit against region {result.peer}: {result.diverged} entities diverged, "
            f"{result.repaired} repaired here, {result.types_compared} types compared",
        )


async def audit_peer(federation: Federation, client: PeerClient, peer: PeerRegion) -> AuditResult:
    """Audit this region against ``peer``; raises ``PeerError`` if it cannot answer."""
    base = base_url(peer.endpoint)
    answer = await client.request("GET", base, DIGEST_PATH)
    async with federation.db.transaction(write=False) as session:
        ours = await session.run_sync(digests)
    try:
        theirs: dict[str, str] = answer["types"]
        compared = [name for name in ours if name in theirs]
        peer_states: dict[str, dict[str, EntityState]] = {}
        for name in compared:
            if ours[name] != theirs[name]:
                listing = await client.request("GET", base, ENTITIES_PATH, params={"type": name})
                states = (EntityState.from_wire(wire) for wire in listing["entities"])
                peer_states[name] = {state.key: state for state in states}
    except (KeyError, TypeError) as error:
        raise PeerError(f"region {peer.id} answered a malformed audit reply: {error!r}") from None
    # The network is behind us: this transaction only reads our side and writes.
    async with federation.db.transaction(replicating=True) as session:
        await serialise_appliers(session)
        outcome = await session.run_sync(lambda s: _repair(s, federation.outbox.clock, peer_states))
        result = AuditResult(
            peer=peer.id,
            time=format_timestamp(utcnow()),
            types_compared=len(compared),
            diverged=outcome.diverged,
            repaired=outcome.repaired,
            in_flight=outcome.in_flight,
        )
        await session.run_sync(lambda s: _save(s, result))
    return result


async def audit_tick(
    federation: Federation, client: PeerClient, lease: LeaseHolder | None = None
) -> str:
    """Audit every peer region once; answer what was found, as one sentence.

    Under ``lease``, the round stops at the first peer it reaches without the lease.
    """
    peers = await peer_regions(federation)
    if not peers:
        return "no peer regions"
    parts = []
    for peer in peers:
        if lease is not None and not lease.valid:
            parts.append("stopped: the audit lease ran out")
            break
        try:
            parts.append((await audit_peer(federation, client, peer)).sentence())
        except PeerError as error:
            parts.append(f"region {peer.id}: not audited ({error})")
        except Exception:  # one peer's failure must not stop the audits of the others
            log.exception("audit of region %s failed", peer.id)
            parts.append(f"region {peer.id}: audit failed")
    return "; ".join(parts)


class Auditor:
    """A worker (``core.worker``) under the region's audit lease: the servers of a region
    hold the same rows, so one of them auditing each peer is enough."""

    name = AUDIT_LEASE
    wake_up = None
    run_at_start = False

    def __init__(self, federation: Federation, client: PeerClient) -> None:
        self._federation = federation
        self._client = client
        self.interval = federation.settings.audit_interval
        self.lease = LeaseHolder(
            federation.db, AUDIT_LEASE, federation.deps.server_id, 1.5 * self.interval
        )

    async def tick(self) -> Tick:
        # Every audit's verdict is news, agreement included: it comes every few minutes.
        return Tick(await audit_tick(self._federation, self._client, self.lease), changed=True)
