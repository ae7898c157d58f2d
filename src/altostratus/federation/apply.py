"""Applying received log entries: idempotent, last writer wins, the same result everywhere.

Rules, which every region follows and so converges whatever order entries arrive in:

* An entry older than (or equal to) the version already here changes nothing.
* Deletes win: a tombstone deletes the entity and what cannot exist without it (a
  domain's subtree, an account's users, a role's rules and accounts), whatever its
  version, and an update of an entity deleted here changes nothing. A tombstone records
  the highest version seen for its key, so every region ends with the same version.
* An entry whose reference has not arrived yet waits (``applied`` stays false) and is
  retried after the next batch; one whose reference was deleted is itself deleted.
* Two live entities that claim one name (two regions created ``alice`` in one domain):
  the one with the smaller key keeps it, the other becomes ``alice-<key prefix>``, and
  a ``FEDERATION.CONFLICT`` event says so.

Applying many entries at once (``apply_pending``, a snapshot install) runs as one
``applying_batch``: the recorded versions and rows of a whole page are read in one query
per type, referenced rows are looked up once, and the versions are written together when
the batch ends. The batch only caches what this transaction itself reads and writes, so
the rules above are decided on exactly the state a statement-per-entity run would see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from altostratus.db.models import (
    Account,
    Domain,
    EntityVersion,
    Event,
    ReplicationEntry,
    ReplicationVector,
    Role,
    RolePermission,
    User,
    Zone,
)
from altostratus.db.upsert import insert_for
from altostratus.federation.entities import EntitySpec, spec_for, spec_named
from altostratus.federation.hlc import HybridClock, Version
from altostratus.federation.outbox import upsert_version

__all__ = [
    "WireEntry",
    "apply_entry",
    "apply_pending",
    "apply_state",
    "applying_batch",
    "record_system_event",
    "serialise_appliers",
    "store_entries",
]

log = logging.getLogger(__name__)

WireEntry = dict[str, Any]


#: Where the running batch keeps its cache in ``session.info``.
_BATCH = "federation.apply_batch"
#: Keys per ``IN (...)`` list: below SQLite's bound-parameter limit.
_CHUNK = 500

Recorded = tuple[str, bool]


@dataclass
class _Batch:
    """What one applying transaction has read or written, keyed by (entity type, key)."""

    #: The recorded (version, deleted); ``None``: no version recorded.
    versions: dict[tuple[str, str], Recorded | None] = field(default_factory=dict)
    #: Versions set in the batch and not yet written to ``entity_versions``.
    unwritten: set[tuple[str, str]] = field(default_factory=set)
    #: The row (``None``: none); a row deleted since counts as none.
    rows: dict[tuple[str, str], Any] = field(default_factory=dict)


def _batch(session: Session) -> _Batch | None:
    batch: _Batch | None = session.info.get(_BATCH)
    return batch


@contextmanager
def applying_batch(session: Session, keys: Iterable[tuple[str, str]] = ()) -> Iterator[None]:
    """Apply many entries with the versions and rows of ``keys`` read up front.

    Nothing else may write global rows or ``entity_versions`` in ``session`` meanwhile
    (the cache would not see it); the versions are written when the block ends. A batch
    inside a batch joins it.
    """
    if _batch(session) is not None:
        _prefetch(session, keys)
        yield
        return
    batch = session.info[_BATCH] = _Batch()
    try:
        _prefetch(session, keys)
        yield
        _write_versions(session, batch)
    finally:
        del session.info[_BATCH]


def _prefetch(session: Session, keys: Iterable[tuple[str, str]]) -> None:
    """Read the versions and rows of ``keys`` the running batch does not know yet."""
    batch = _batch(session)
    if batch is None:
        return
    wanted: dict[str, set[str]] = {}
    for entity_type, key in keys:
        if (entity_type, key) not in batch.rows:
            wanted.setdefault(entity_type, set()).add(key)
    for entity_type, type_keys in wanted.items():
        spec = spec_named(entity_type)
        column = getattr(spec.model, spec.key_attribute)
        ordered = sorted(type_keys)
        for chunk in (ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)):
            for key in chunk:
                batch.rows[(entity_type, key)] = None
                batch.versions.setdefault((entity_type, key), None)
            found = session.execute(
                select(EntityVersion.entity_key, EntityVersion.version, EntityVersion.deleted)
                .where(EntityVersion.entity_type == entity_type)
                .where(EntityVersion.entity_key.in_(chunk))
            )
            for key, version, deleted in found:
                if (entity_type, key) not in batch.unwritten:
                    batch.versions[(entity_type, key)] = (version, deleted)
            values = [spec.key_value(key) for key in chunk]
            for row in session.scalars(select(spec.model).where(column.in_(values))).unique():
                batch.rows[(entity_type, spec.key_of(row))] = row


def _write_versions(session: Session, batch: _Batch) -> None:
    rows = []
    for entity_type, key in batch.unwritten:
        recorded = batch.versions[(entity_type, key)]
        assert recorded is not None
        version, deleted = recorded
        rows.append(
            {"entity_type": entity_type, "entity_key": key, "version": version, "deleted": deleted}
        )
    batch.unwritten.clear()
    if rows:
        statement = insert_for(session, EntityVersion)
        session.connection().execute(
            statement.on_conflict_do_update(
                index_elements=["entity_type", "entity_key"],
                set_={"version": statement.excluded.version, "deleted": statement.excluded.deleted},
            ),
            rows,
        )


def _find(session: Session, spec: EntitySpec, key: str) -> Any:
    batch = _batch(session)
    if batch is not None and (spec.name, key) in batch.rows:
        row = batch.rows[(spec.name, key)]
        return None if row is None or inspect(row).was_deleted else row
    column = getattr(spec.model, spec.key_attribute)
    row = session.scalar(select(spec.model).where(column == spec.key_value(key)))
    if batch is not None:
        batch.rows[(spec.name, key)] = row
    return row


def _recorded(session: Session, entity_type: str, key: str) -> Recorded | None:
    """(version, deleted) recorded here: the batch's, else read from the table (never a
    loaded EntityVersion object, which the upserts in plain SQL would leave stale)."""
    batch = _batch(session)
    if batch is not None and (entity_type, key) in batch.versions:
        return batch.versions[(entity_type, key)]
    found = session.execute(
        select(EntityVersion.version, EntityVersion.deleted).where(
            EntityVersion.entity_type == entity_type, EntityVersion.entity_key == key
        )
    ).first()
    recorded = (found.version, found.deleted) if found is not None else None
    if batch is not None:
        batch.versions[(entity_type, key)] = recorded
    return recorded


def _set_version(
    session: Session, entity_type: str, key: str, version: str, *, deleted: bool
) -> None:
    batch = _batch(session)
    if batch is None:
        upsert_version(session, entity_type, key, version, deleted=deleted)
        return
    batch.versions[(entity_type, key)] = (version, deleted)
    batch.unwritten.add((entity_type, key))


def _tombstone(session: Session, entity_type: str, key: str, version: str) -> None:
    """Record ``key`` as deleted at the higher of ``version`` and the version recorded."""
    recorded = _recorded(session, entity_type, key)
    if recorded is not None:
        version = max(version, recorded[0])
    _set_version(session, entity_type, key, version, deleted=True)


def _tombstoned(session: Session, spec: EntitySpec, key: str) -> bool:
    recorded = _recorded(session, spec.name, key)
    return recorded is not None and recorded[1]


def _delete_domain_tree(session: Session, domain: Domain, version: str) -> None:
    subtree = list(
        session.scalars(
            select(Domain).where(
                (Domain.id == domain.id)
                | Domain.path.startswith(domain.path + "/", autoescape=True)
            )
        )
    )
    ids = [member.id for member in subtree]
    # Regional rows may point at a global domain; they lose the dedication, not the row.
    session.execute(update(Zone).where(Zone.domain_id.in_(ids)).values(domain_id=None))
    # A project account is regional and was never logged: no tombstone is about it. A
    # project left in the domain keeps it from being deleted here, like a VM of one of
    # its accounts would (docs/identity.md, Projects).
    accounts = select(Account).where(Account.domain_id.in_(ids), spec_for(Account).replicated())
    for account in session.scalars(accounts):
        _delete_account(session, account, version)
    for member in sorted(subtree, key=lambda d: d.level, reverse=True):
        _tombstone(session, "domain", member.uuid, version)
        session.delete(member)
        session.flush()


def _delete_account(session: Session, account: Account, version: str) -> None:
    for user in session.scalars(select(User).where(User.account_id == account.id)):
        _tombstone(session, "user", user.uuid, version)
        session.delete(user)
    _tombstone(session, "account", account.uuid, version)
    session.flush()
    session.delete(account)
    session.flush()


def _delete_role(session: Session, role: Role, version: str) -> None:
    """A role's rules cannot outlive it, nor accounts given it elsewhere meanwhile (a role
    in use is never deleted by the service, so only a concurrent grant meets this)."""
    for account in session.scalars(select(Account).where(Account.role_id == role.id)):
        _delete_account(session, account, version)
    for rule in session.scalars(select(RolePermission).where(RolePermission.role_id == role.id)):
        _tombstone(session, "role_permission", rule.uuid, version)
        session.delete(rule)
    session.flush()
    session.delete(role)
    session.flush()


def _delete(session: Session, spec: EntitySpec, row: Any, version: str) -> None:
    if isinstance(row, Domain):
        _delete_domain_tree(session, row, version)
    elif isinstance(row, Account):
        _delete_account(session, row, version)
    elif isinstance(row, Role):
        _delete_role(session, row, version)
    else:
        session.delete(row)
        session.flush()
    _tombstone(session, spec.name, spec.key_of(row), version)


def _derive(session: Session, row: Any) -> None:
    """Recompute a domain's path and level (and its subtree's paths): they are local."""
    if isinstance(row, Domain):
        parent = session.get(Domain, row.parent_id) if row.parent_id is not None else None
        new_path = row.name if parent is None else f"{parent.path}/{row.name}"
        old_path = row.path
        row.level = 0 if parent is None else parent.level + 1
        row.path = new_path
        if old_path and old_path != new_path:
            below = session.scalars(
                select(Domain).where(Domain.path.startswith(old_path + "/", autoescape=True))
            )
            for member in below:
                member.path = new_path + member.path[len(old_path) :]


def _resolve_name_clash(
    session: Session, spec: EntitySpec, key: str, row: Any, values: dict[str, Any]
) -> None:
    """Settle a clash of the incoming state ``values`` with another live row's name.

    The smaller key keeps the name. When the row already here loses, it is renamed and
    flushed at once, so the winner's insert or update never meets the old name.
    """
    if spec.name_column is None:
        return
    key_column = getattr(spec.model, spec.key_attribute)
    for columns in spec.unique:
        if row is not None and all(
            values[c] is not None and getattr(row, c) == values[c] for c in columns
        ):
            continue  # the row keeps its values, which the unique constraint already holds
        clash_key = session.scalar(
            select(key_column).where(
                and_(*(getattr(spec.model, c) == values[c] for c in columns)),
                key_column != spec.key_value(key),
            )
        )
        if clash_key is None:
            continue
        name = values[spec.name_column]
        if key > str(clash_key):
            values[spec.name_column] = renamed = f"{name}-{key[:8]}"
            _record_conflict(session, spec, name, renamed, key)
        else:
            clash = _find(session, spec, str(clash_key))
            renamed = f"{name}-{spec.key_of(clash)[:8]}"
            setattr(clash, spec.name_column, renamed)
            _derive(session, clash)
            session.flush()
            _record_conflict(session, spec, name, renamed, spec.key_of(clash))


def _record_conflict(session: Session, spec: EntitySpec, name: str, renamed: str, key: str) -> None:
    record_system_event(
        session,
        "FEDERATION.CONFLICT",
        f"Two regions created {spec.name} {name!r}; {key} was renamed to {renamed!r}",
        resource_type=spec.name,
        resource_uuid=key if len(key) == 36 else None,
    )


def record_system_event(
    session: Session,
    event_type: str,
    description: str,
    *,
    resource_type: str | None = None,
    resource_uuid: str | None = None,
) -> None:
    """A WARN event of the federation itself: no caller, owned by the ROOT domain."""
    root = session.scalar(select(Domain).where(Domain.parent_id.is_(None)))
    session.add(
        Event(
            type=event_type,
            level="WARN",
            description=description,
            username="system",
            account_name="system",
            domain_uuid=root.uuid if root else "",
            domain_path=root.path if root else "ROOT",
            resource_type=resource_type,
            resource_uuid=resource_uuid,
        )
    )


def apply_entry(session: Session, entry: ReplicationEntry, clock: HybridClock) -> bool:
    """Apply one entry; False when it must wait for an entity it refers to."""
    spec = spec_named(entry.entity_type)
    clock.observe(Version.decode(entry.version))
    recorded = _recorded(session, spec.name, entry.entity_key)
    # An older (or the same) state of a live entity changes nothing; tombstones and
    # states of deleted entities always go through, to settle the tombstone's version.
    live = recorded is not None and not recorded[1]
    if entry.payload is not None and live and recorded is not None and recorded[0] >= entry.version:
        return True
    return apply_state(session, spec, entry.entity_key, entry.version, entry.payload)


def apply_state(
    session: Session, spec: EntitySpec, key: str, version: str, payload_text: str | None
) -> bool:
    """Make ``key``'s state here ``payload_text`` at ``version`` (``None`` deletes it).

    The caller has decided the state is newer than what is here (``apply_entry`` for log
    entries, a joining region for its snapshot, the audit). Deletes are final: a state for
    a deleted key only raises its tombstone's version. False when a referenced entity is
    missing.
    """
    row = _find(session, spec, key)
    if payload_text is None or _tombstoned(session, spec, key):
        if row is not None:
            _delete(session, spec, row, version)
        _tombstone(session, spec.name, key, version)
        return True
    payload = orjson.loads(payload_text)
    values = {name: spec.column_value(name, payload.get(name)) for name in spec.columns}
    for name, reference in spec.references.items():
        target_key = payload.get(name)
        if target_key is None:
            values[reference.column] = None
            continue
        target_spec = spec_for(reference.target)
        target = _find(session, target_spec, target_key)
        if target is None:
            if not _tombstoned(session, target_spec, target_key):
                return False
            if row is not None:
                _delete(session, spec, row, version)
            _tombstone(session, spec.name, key, version)
            return True
        values[reference.column] = target.id
        if spec.model is User and name == "account":
            values["domain_id"] = target.domain_id
    _resolve_name_clash(session, spec, key, row, values)
    if row is None:
        row = spec.model(**{spec.key_attribute: spec.key_value(key)})
        if isinstance(row, Domain):
            row.path = ""
        session.add(row)
        batch = _batch(session)
        if batch is not None:
            batch.rows[(spec.name, key)] = row
    for name, value in values.items():
        setattr(row, name, value)
    _derive(session, row)
    session.flush()
    _set_version(session, spec.name, key, version, deleted=False)
    return True


def store_entries(session: Session, entries: Sequence[WireEntry]) -> int:
    """Keep received entries (each origin's in order; duplicates ignored); return how many."""
    vector = {row.origin: row.seq for row in session.scalars(select(ReplicationVector))}
    kept: list[dict[str, Any]] = []
    for wire in sorted(entries, key=lambda e: (e["origin"], e["seq"])):
        origin, seq = int(wire["origin"]), int(wire["seq"])
        if seq != vector.get(origin, 0) + 1:
            continue  # already here, or a gap: the next pull asks again from the vector
        kept.append(
            {
                "origin": origin,
                "seq": seq,
                "entity_type": wire["entity_type"],
                "entity_key": wire["entity_key"],
                "version": wire["version"],
                "payload": wire["payload"],
                "applied": False,
            }
        )
        vector[origin] = seq
    if kept:
        session.execute(insert_for(session, ReplicationEntry).on_conflict_do_nothing(), kept)
    # Only origins that advanced: rewriting the others (the local origin's row is also its
    # seq counter) could lower a value a concurrent transaction has just raised.
    for origin in {entry["origin"] for entry in kept}:
        seq = vector[origin]
        session.execute(
            insert_for(session, ReplicationVector)
            .values(origin=origin, seq=seq)
            .on_conflict_do_update(index_elements=["origin"], set_={"seq": seq})
        )
    return len(kept)


def apply_pending(session: Session, clock: HybridClock) -> tuple[int, int]:
    """Apply waiting entries until no more can be; return (applied, still waiting)."""
    applied = 0
    with applying_batch(session):
        while True:
            waiting = list(
                session.scalars(
                    select(ReplicationEntry)
                    .where(ReplicationEntry.applied.is_(False))
                    .order_by(ReplicationEntry.origin, ReplicationEntry.seq)
                )
            )
            # Detached: the per-entity flushes need not write their flags one at a time.
            for entry in waiting:
                session.expunge(entry)
            _prefetch(session, ((entry.entity_type, entry.entity_key) for entry in waiting))
            done = []
            with session.no_autoflush:
                for entry in waiting:
                    if apply_entry(session, entry, clock):
                        done.append({"origin": entry.origin, "seq": entry.seq, "applied": True})
            if done:
                session.execute(update(ReplicationEntry), done)
            applied += len(done)
            if not done or len(done) == len(waiting):
                return applied, len(waiting) - len(done)


#: Any fixed number: the PostgreSQL advisory lock taken by every applying transaction.
_APPLY_LOCK = 0x616C746F


async def serialise_appliers(session: AsyncSession) -> None:
    """Let one transaction at a time apply received state (puller, audit, several servers).

    Two appliers creating the same row would otherwise collide on its unique key; on
    SQLite the write lock taken at BEGIN already serialises them.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPLY_LOCK})
