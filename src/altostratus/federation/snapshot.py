"""A consistent copy of the global tables: the state a joining region starts from.

A snapshot carries every global entity (in dependency order, so each reference points at
something already installed), its version, the tombstones (so an old entry arriving later
cannot bring a deleted entity back), the entries received but still waiting for a
reference, and the version vector they add up to. After installing it the new region
follows the log from that vector: entries it receives again are older than or equal to
what it has, so applying them changes nothing.
"""

from __future__ import annotations

from typing import Any, TypedDict

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from altostratus.db.engine import Database
from altostratus.db.models import (
    Domain,
    EntityVersion,
    ReplicationEntry,
    ReplicationVector,
    Zone,
)
from altostratus.federation.apply import WireEntry, apply_pending, apply_state, applying_batch
from altostratus.federation.entities import EntitySpec, spec_named
from altostratus.federation.hlc import HybridClock

__all__ = [
    "Snapshot",
    "SnapshotEntity",
    "SnapshotError",
    "build_snapshot",
    "install_snapshot",
    "read_snapshot",
]

#: Referenced before referring: a domain's parent comes before it (by level), accounts
#: need domains and roles, users need accounts, role permissions their role.
DEPENDENCY_ORDER = (
    "region",
    "role",
    "role_permission",
    "domain",
    "account",
    "user",
    "session_revocation",
)


class SnapshotEntity(TypedDict):
    entity_type: str
    entity_key: str
    #: ``""`` (lower than any version) for rows no change was ever logged for: the first
    #: region's bootstrap rows.
    version: str
    deleted: bool
    #: The replicated state as JSON text, like a log entry's; ``None`` for a tombstone.
    payload: str | None


class Snapshot(TypedDict):
    entities: list[SnapshotEntity]
    #: ``{origin: highest seq}`` (origins as text: JSON object keys).
    vector: dict[str, int]
    #: Entries stored but not yet applied (waiting for a reference): part of the vector.
    pending: list[WireEntry]


class SnapshotError(RuntimeError):
    """The snapshot contradicts itself (an entity refers to one it does not contain)."""


async def read_snapshot(db: Database) -> Snapshot:
    """Build a snapshot in one read transaction, so the vector matches the rows."""
    async with db.transaction(write=False) as session:
        if not db.is_sqlite:
            # PostgreSQL's default (read committed) would let each SELECT see later commits;
            # SQLite's read transaction already is one snapshot.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return await session.run_sync(build_snapshot)


def build_snapshot(session: Session) -> Snapshot:
    versions = {
        (row.entity_type, row.entity_key): row for row in session.scalars(select(EntityVersion))
    }
    entities: list[SnapshotEntity] = []
    for name in DEPENDENCY_ORDER:
        spec = spec_named(name)
        for row in _rows(session, spec):
            key = spec.key_of(row)
            known = versions.pop((spec.name, key), None)
            entities.append(
                SnapshotEntity(
                    entity_type=spec.name,
                    entity_key=key,
                    version=known.version if known is not None else "",
                    deleted=False,
                    payload=orjson.dumps(spec.to_payload(session, row)).decode(),
                )
            )
    entities += [
        SnapshotEntity(
            entity_type=entity_type, entity_key=key, version=row.version, deleted=True, payload=None
        )
        for (entity_type, key), row in versions.items()
        if row.deleted
    ]
    pending = session.scalars(
        select(ReplicationEntry)
        .where(ReplicationEntry.applied.is_(False))
        .order_by(ReplicationEntry.origin, ReplicationEntry.seq)
    )
    return Snapshot(
        entities=entities,
        vector={str(row.origin): row.seq for row in session.scalars(select(ReplicationVector))},
        pending=[
            {
                "origin": entry.origin,
                "seq": entry.seq,
                "entity_type": entry.entity_type,
                "entity_key": entry.entity_key,
                "version": entry.version,
                "payload": entry.payload,
            }
            for entry in pending
        ],
    )


def _rows(session: Session, spec: EntitySpec) -> list[Any]:
    query = select(spec.model).where(spec.replicated())
    if spec.model is Domain:
        query = query.order_by(Domain.level, Domain.id)
    return list(session.scalars(query).unique())


def install_snapshot(session: Session, snapshot: Snapshot, local_region_id: int) -> None:
    """Replace the global rows and the replication state here with ``snapshot``'s.

    Run it in a ``replicating`` transaction: the installed rows are the federation's state,
    not local changes to log.
    """
    _wipe(session)
    keys = ((entity["entity_type"], entity["entity_key"]) for entity in snapshot["entities"])
    # A new row's derived columns (a domain's path) are set just before apply_state flushes.
    with applying_batch(session, keys), session.no_autoflush:
        for entity in snapshot["entities"]:
            spec = spec_named(entity["entity_type"])
            payload = None if entity["deleted"] else entity["payload"]
            if not apply_state(session, spec, entity["entity_key"], entity["version"], payload):
                raise SnapshotError(
                    f"{spec.name} {entity['entity_key']} refers to an entity the snapshot lacks"
                )
    # Rows without a logged change have no version row in the region they came from either.
    session.execute(delete(EntityVersion).where(EntityVersion.version == ""))
    vector = {int(origin): int(seq) for origin, seq in snapshot["vector"].items()}
    # The local origin continues where the federation has it (a region that joins again).
    vector.setdefault(local_region_id, 0)
    session.add_all(ReplicationVector(origin=origin, seq=seq) for origin, seq in vector.items())
    session.add_all(
        ReplicationEntry(
            origin=int(wire["origin"]),
            seq=int(wire["seq"]),
            entity_type=wire["entity_type"],
            entity_key=wire["entity_key"],
            version=wire["version"],
            payload=wire["payload"],
            applied=False,
        )
        for wire in snapshot["pending"]
    )
    session.flush()
    apply_pending(session, HybridClock(local_region_id))


def _wipe(session: Session) -> None:
    """Delete every global row and all replication state, children before parents.

    Regional rows of global tables (project accounts) are not the federation's to
    replace; ``join`` refuses a database that holds any, so none are met here.
    """
    # Regional rows may point at a global domain; they lose the dedication, not the row.
    session.execute(update(Zone).values(domain_id=None))
    for name in reversed(DEPENDENCY_ORDER):
        spec = spec_named(name)
        session.execute(delete(spec.model).where(spec.replicated()))
    for model in (EntityVersion, ReplicationEntry, ReplicationVector):
        session.execute(delete(model))
    session.expunge_all()
