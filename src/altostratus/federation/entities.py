"""The global entities and how their state crosses regions.

A payload is the entity's replicated columns with references written as the referenced
entity's key (UUID), never a local integer id. Derived columns (a domain's ``path`` and
``level``, a user's ``domain_id``) are recomputed where the state is applied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Session

from altostratus.db.models import (
    Account,
    AccountType,
    Base,
    Domain,
    Region,
    Role,
    RolePermission,
    SessionRevocation,
    User,
)
from altostratus.db.models.base import UtcDateTime

__all__ = ["SPECS", "EntitySpec", "Reference", "is_global", "spec_for", "spec_named"]


@dataclass(frozen=True)
class Reference:
    """A foreign key carried as the referenced entity's key: ``parent`` → ``parent_id``."""

    column: str
    target: type[Base]


@dataclass(frozen=True)
class EntitySpec:
    name: str
    model: type[Base]
    key_attribute: str
    columns: tuple[str, ...]
    references: dict[str, Reference] = field(default_factory=dict)
    #: Column sets that must be unique among live rows (name clashes across regions).
    unique: tuple[tuple[str, ...], ...] = ()
    #: The column renamed when two regions created clashing rows.
    name_column: str | None = None
    #: ``(column, value)``: rows of the global table holding ``value`` there stay in their
    #: region (a project's account: projects are regional). The outbox does not log them,
    #: snapshots and the audit leave them out, so no region ever sees another's.
    regional_when: tuple[str, Any] | None = None

    def replicates(self, row: Any) -> bool:
        """Whether ``row`` is global (logged, snapshotted, audited) or stays here."""
        if self.regional_when is None:
            return True
        column, value = self.regional_when
        return bool(getattr(row, column) != value)

    def replicated(self) -> ColumnElement[bool]:
        """The SQL form of ``replicates``, for queries over the whole table."""
        if self.regional_when is None:
            return true()
        column, value = self.regional_when
        regional: ColumnElement[bool] = self.model.__table__.c[column] != value
        return regional

    def key_of(self, row: Any) -> str:
        return str(getattr(row, self.key_attribute))

    def key_value(self, key: str) -> Any:
        column = self.model.__table__.c[self.key_attribute]
        return int(key) if column.type.python_type is int else key

    def replicated_attributes(self) -> tuple[str, ...]:
        return self.columns + tuple(ref.column for ref in self.references.values())

    def to_payload(self, session: Session, row: Any) -> dict[str, Any]:
        """The row's replicated state; references are looked up in the identity map."""
        payload = {name: _to_wire(getattr(row, name)) for name in self.columns}
        for name, ref in self.references.items():
            local_id = getattr(row, ref.column)
            target = session.get(ref.target, local_id) if local_id is not None else None
            payload[name] = spec_for(ref.target).key_of(target) if target is not None else None
        return payload

    def column_value(self, name: str, wire: Any) -> Any:
        """Turn a payload value back into what the column holds."""
        if wire is None:
            return None
        column_type = self.model.__table__.c[name].type
        if isinstance(column_type, SqlEnum) and column_type.enum_class is not None:
            return column_type.enum_class(wire)
        if isinstance(column_type, UtcDateTime):
            return datetime.fromisoformat(wire)
        return wire


def _to_wire(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        # SQLite hands back naive UTC, PostgreSQL aware values: one spelling for both, or
        # the same state would read as two (the audit compares payloads).
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    return value


SPECS: tuple[EntitySpec, ...] = (
    EntitySpec(
        "region",
        Region,
        "id",
        ("name", "endpoint", "gslb_service_enabled", "portable_ip_service_enabled", "created"),
        unique=(("name",),),
        name_column="name",
    ),
    EntitySpec(
        "role",
        Role,
        "uuid",
        ("name", "type", "description", "is_default", "is_public", "state", "created"),
        unique=(("name",),),
        name_column="name",
    ),
    EntitySpec(
        "role_permission",
        RolePermission,
        "uuid",
        ("rule", "permission", "description", "sort_order", "created"),
        {"role": Reference("role_id", Role)},
    ),
    EntitySpec(
        "domain",
        Domain,
        "uuid",
        ("name", "network_domain", "created"),
        {"parent": Reference("parent_id", Domain)},
        unique=(("parent_id", "name"),),
        name_column="name",
    ),
    EntitySpec(
        "account",
        Account,
        "uuid",
        ("name", "type", "state", "network_domain", "details", "created"),
        {"domain": Reference("domain_id", Domain), "role": Reference("role_id", Role)},
        unique=(("domain_id", "name"),),
        name_column="name",
        regional_when=("type", AccountType.PROJECT),
    ),
    EntitySpec(
        "user",
        User,
        "uuid",
        (
            "username",
            "password_hash",
            "firstname",
            "lastname",
            "email",
            "timezone",
            "state",
            "api_key",
            "secret_key_encrypted",
            "failed_logins",
            "created",
        ),
        {"account": Reference("account_id", Account)},
        unique=(("domain_id", "username"),),
        name_column="username",
    ),
    EntitySpec(
        "session_revocation",
        SessionRevocation,
        "session_id",
        ("user_uuid", "revoked_at", "expires_at"),
    ),
)

_BY_MODEL = {spec.model: spec for spec in SPECS}
_BY_NAME = {spec.name: spec for spec in SPECS}


def spec_for(model: type[Any]) -> EntitySpec:
    return _BY_MODEL[model]


def spec_named(name: str) -> EntitySpec:
    return _BY_NAME[name]


def is_global(model: type[Any]) -> bool:
    return model in _BY_MODEL
