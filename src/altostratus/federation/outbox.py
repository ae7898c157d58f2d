"""The transactional outbox: local changes of global entities become log entries.

A flush listener sees every inserted, updated and deleted row of a global model and, in
the same transaction, appends a ``replication_log`` entry with a new version. Services
write their rows as usual and never call replication code; a change and its log entry
commit together or not at all. Transactions that *apply* received entries are marked
``replicating`` and are not logged again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import event, func, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from altostratus.db.engine import AltoSession, Database
from altostratus.db.models import EntityVersion, ReplicationEntry, ReplicationVector
from altostratus.federation.entities import EntitySpec, is_global, spec_for
from altostratus.federation.hlc import HybridClock, Version

__all__ = ["Outbox", "allocate_seq", "resume_clock", "upsert_version"]

_OUTBOX = "outbox"
REPLICATING = "replicating"
_LOGGED = "logged"


class Outbox:
    def __init__(self, origin: int, clock: HybridClock) -> None:
        self.origin = origin
        self.clock = clock
        #: Called after a commit that wrote log entries (wakes the peer notifier).
        self.on_commit: Callable[[], None] | None = None

    def install(self, database: Database) -> None:
        database.session_info[_OUTBOX] = self
        if not event.contains(AltoSession, "after_flush", _capture):
            event.listen(AltoSession, "after_flush", _capture)
            event.listen(AltoSession, "after_commit", _committed)


async def resume_clock(database: Database, clock: HybridClock) -> None:
    """Start the clock above every version stored here, so that a restart on a host whose
    wall clock went back never issues a version below an earlier one (a lost update)."""
    async with database.transaction(write=False) as session:
        newest = await session.scalar(select(func.max(EntityVersion.version)))
    if newest:
        clock.observe(Version.decode(newest))


def _changed(row: Any, spec: EntitySpec) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in spec.replicated_attributes())


def _logged_spec(row: Any) -> EntitySpec | None:
    """The spec of a row whose changes are logged; ``None`` for regional rows."""
    if not is_global(type(row)):
        return None
    spec = spec_for(type(row))
    return spec if spec.replicates(row) else None


def _capture(session: Session, _context: Any) -> None:
    outbox: Outbox | None = session.info.get(_OUTBOX)
    if outbox is None or session.info.get(REPLICATING):
        return
    changes: list[tuple[EntitySpec, str, dict[str, Any] | None]] = []
    with session.no_autoflush:
        for row in session.new:
            if (spec := _logged_spec(row)) is not None:
                changes.append((spec, spec.key_of(row), spec.to_payload(session, row)))
        for row in session.dirty:
            if (spec := _logged_spec(row)) is not None and _changed(row, spec):
                changes.append((spec, spec.key_of(row), spec.to_payload(session, row)))
        for row in session.deleted:
            if (spec := _logged_spec(row)) is not None:
                changes.append((spec, spec.key_of(row), None))
    for spec, key, payload in changes:
        seq = allocate_seq(session, outbox.origin)
        version = outbox.clock.tick(seq).encode()
        session.connection().execute(
            insert(ReplicationEntry).values(
                origin=outbox.origin,
                seq=seq,
                entity_type=spec.name,
                entity_key=key,
                version=version,
                payload=None if payload is None else orjson.dumps(payload).decode(),
                applied=True,
            )
        )
        upsert_version(session, spec.name, key, version, deleted=payload is None)
    if changes:
        session.info[_LOGGED] = True


def _committed(session: Session) -> None:
    outbox: Outbox | None = session.info.get(_OUTBOX)
    if session.info.pop(_LOGGED, False) and outbox is not None and outbox.on_commit:
        outbox.on_commit()


def allocate_seq(session: Session, origin: int) -> int:
    """The next position in ``origin``'s log; the row lock orders concurrent writers."""
    connection = session.connection()
    seq = connection.execute(
        update(ReplicationVector)
        .where(ReplicationVector.origin == origin)
        .values(seq=ReplicationVector.seq + 1)
        .returning(ReplicationVector.seq)
    ).scalar()
    if seq is None:
        connection.execute(insert(ReplicationVector).values(origin=origin, seq=1))
        seq = 1
    return int(seq)


def upsert_version(
    session: Session, entity_type: str, key: str, version: str, *, deleted: bool
) -> None:
    dialect = (
        postgresql
        if session.bind is not None and session.get_bind().dialect.name == "postgresql"
        else sqlite
    )
    statement = dialect.insert(EntityVersion).values(
        entity_type=entity_type, entity_key=key, version=version, deleted=deleted
    )
    session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["entity_type", "entity_key"],
            set_={"version": version, "deleted": deleted},
        )
    )
