"""Applying received log entries: idempotent, last writer wins, the same result everywhere.

Rules, which every region follows and so converges whatever order entries arrive in:

* An entry older than (or equal to) the version already here changes nothing.
* A tombstone deletes the entity and what cannot exist without it (a domain's subtree,
  an account's users); those are recorded as deleted at the tombstone's version.
* An entry whose reference has not arrived yet waits (``applied`` stays false) and is
  retried after the next batch; one whose reference was deleted is itself deleted.
* Two live entities that claim one name (two regions created ``alice`` in one domain):
  the one with the smaller key keeps it, the other becomes ``alice-<key prefix>``, and
  a ``FEDERATION.CONFLICT`` event says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from altostratus.db.models import (
    Account,
    Domain,
    EntityVersion,
    Event,
    ReplicationEntry,
    ReplicationVector,
    User,
    Zone,
)
from altostratus.federation.entities import EntitySpec, spec_for, spec_named
from altostratus.federation.hlc import HybridClock, Version
from altostratus.federation.outbox import upsert_version

__all__ = [
    "WireEntry",
    "apply_entry",
    "apply_pending",
    "apply_state",
    "record_system_event",
    "store_entries",
]

log = logging.getLogger(__name__)

WireEntry = dict[str, Any]


def _find(session: Session, spec: EntitySpec, key: str) -> Any:
    column = getattr(spec.model, spec.key_attribute)
    return session.scalar(select(spec.model).where(column == spec.key_value(key)))


def _tombstoned(session: Session, spec: EntitySpec, key: str) -> bool:
    version = session.get(EntityVersion, (spec.name, key))
    return version is not None and version.deleted


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
    for account in session.scalars(select(Account).where(Account.domain_id.in_(ids))):
        _delete_account(session, account, version)
    for member in sorted(subtree, key=lambda d: d.level, reverse=True):
        upsert_version(session, "domain", member.uuid, version, deleted=True)
        session.delete(member)
        session.flush()


def _delete_account(session: Session, account: Account, version: str) -> None:
    for user in session.scalars(select(User).where(User.account_id == account.id)):
        upsert_version(session, "user", user.uuid, version, deleted=True)
        session.delete(user)
    upsert_version(session, "account", account.uuid, version, deleted=True)
    session.flush()
    session.delete(account)
    session.flush()


def _delete(session: Session, spec: EntitySpec, row: Any, version: str) -> None:
    if isinstance(row, Domain):
        _delete_domain_tree(session, row, version)
    elif isinstance(row, Account):
        _delete_account(session, row, version)
    else:
        session.delete(row)
        session.flush()
    upsert_version(session, spec.name, spec.key_of(row), version, deleted=True)


def _derive(session: Session, row: Any) -> None:
    """Recompute what is local: a domain's path and level (and its subtree's), a user's domain."""
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
    elif isinstance(row, User):
        account = session.get(Account, row.account_id)
        assert account is not None
        row.domain_id = account.domain_id


def _resolve_name_clash(session: Session, spec: EntitySpec, row: Any) -> None:
    if spec.name_column is None:
        return
    key_column = getattr(spec.model, spec.key_attribute)
    for columns in spec.unique:
        clash = session.scalar(
            select(spec.model).where(
                and_(*(getattr(spec.model, c) == getattr(row, c) for c in columns)),
                key_column != getattr(row, spec.key_attribute),
            )
        )
        if clash is None:
            continue
        loser = max((row, clash), key=spec.key_of)
        name = getattr(loser, spec.name_column)
        renamed = f"{name}-{spec.key_of(loser)[:8]}"
        setattr(loser, spec.name_column, renamed)
        if loser is clash:
            _derive(session, clash)
        _record_conflict(session, spec, name, renamed, spec.key_of(loser))


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
    current = session.get(EntityVersion, (spec.name, entry.entity_key))
    if current is not None and current.version >= entry.version:
        return True
    clock.observe(Version.decode(entry.version))
    return apply_state(session, spec, entry.entity_key, entry.version, entry.payload)


def apply_state(
    session: Session, spec: EntitySpec, key: str, version: str, payload_text: str | None
) -> bool:
    """Make ``key``'s state here ``payload_text`` at ``version`` (``None`` deletes it).

    The caller has decided the state is newer than what is here (``apply_entry`` for log
    entries, a joining region for its snapshot). False when a referenced entity is missing.
    """
    row = _find(session, spec, key)
    if payload_text is None:
        if row is not None:
            _delete(session, spec, row, version)
        upsert_version(session, spec.name, key, version, deleted=True)
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
            upsert_version(session, spec.name, key, version, deleted=True)
            return True
        values[reference.column] = target.id
    if row is None:
        row = spec.model(**{spec.key_attribute: spec.key_value(key)})
        if isinstance(row, Domain):
            row.path = ""
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    _resolve_name_clash(session, spec, row)
    _derive(session, row)
    session.flush()
    upsert_version(session, spec.name, key, version, deleted=False)
    return True


def store_entries(session: Session, entries: Sequence[WireEntry]) -> int:
    """Keep received entries (each origin's in order; duplicates ignored); return how many."""
    vector = {row.origin: row.seq for row in session.scalars(select(ReplicationVector))}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stored = 0
    for wire in sorted(entries, key=lambda e: (e["origin"], e["seq"])):
        origin, seq = int(wire["origin"]), int(wire["seq"])
        if seq != vector.get(origin, 0) + 1:
            continue  # already here, or a gap: the next pull asks again from the vector
        session.execute(
            dialect.insert(ReplicationEntry)
            .values(
                origin=origin,
                seq=seq,
                entity_type=wire["entity_type"],
                entity_key=wire["entity_key"],
                version=wire["version"],
                payload=wire["payload"],
                applied=False,
            )
            .on_conflict_do_nothing()
        )
        vector[origin] = seq
        stored += 1
    for origin, seq in vector.items():
        session.execute(
            dialect.insert(ReplicationVector)
            .values(origin=origin, seq=seq)
            .on_conflict_do_update(index_elements=["origin"], set_={"seq": seq})
        )
    return stored


def apply_pending(session: Session, clock: HybridClock) -> tuple[int, int]:
    """Apply waiting entries until no more can be; return (applied, still waiting)."""
    applied = 0
    while True:
        waiting = list(
            session.scalars(
                select(ReplicationEntry)
                .where(ReplicationEntry.applied.is_(False))
                .order_by(ReplicationEntry.origin, ReplicationEntry.seq)
            )
        )
        progress = 0
        with session.no_autoflush:
            for entry in waiting:
                if apply_entry(session, entry, clock):
                    entry.applied = True
                    progress += 1
        session.flush()
        applied += progress
        if progress == 0 or progress == len(waiting):
            return applied, len(waiting) - progress
