"""Global identity: roles and their permission rules, domains, accounts, users, revoked sessions.

These tables are global (docs/design.md, "Words"): every region holds the same rows under the same
UUIDs, so nothing here may depend on a regional table.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import Base, PublicEntity

__all__ = [
    "Account",
    "AccountType",
    "Domain",
    "EntityState",
    "Permission",
    "Role",
    "RolePermission",
    "RoleState",
    "RoleType",
    "SessionRevocation",
    "User",
]


class RoleType(enum.StrEnum):
    ADMIN = "Admin"
    #: A domain admin who also sees the infrastructure (CloudStack's account type 3).
    RESOURCE_ADMIN = "ResourceAdmin"
    DOMAIN_ADMIN = "DomainAdmin"
    USER = "User"


class RoleState(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Permission(enum.StrEnum):
    """What a role permission rule does to the commands it matches."""

    ALLOW = "allow"
    DENY = "deny"


class AccountType(enum.IntEnum):
    """CloudStack's ``accounttype`` numbers."""

    USER = 0
    ADMIN = 1
    DOMAIN_ADMIN = 2
    RESOURCE_ADMIN = 3
    #: The account a project's resources belong to (``models.projects``): it has no users,
    #: is never listed as an account and, unlike the others, stays in its region.
    PROJECT = 5

    @property
    def role_type(self) -> RoleType:
        return {
            AccountType.USER: RoleType.USER,
            AccountType.ADMIN: RoleType.ADMIN,
            AccountType.DOMAIN_ADMIN: RoleType.DOMAIN_ADMIN,
            AccountType.RESOURCE_ADMIN: RoleType.RESOURCE_ADMIN,
            AccountType.PROJECT: RoleType.USER,
        }[self]


class EntityState(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    LOCKED = "locked"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as text, not a native PostgreSQL enum: values can be added without DDL.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(PublicEntity):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[RoleType] = mapped_column(_enum(RoleType, "role_type"))
    description: Mapped[str] = mapped_column(String(255), default="")
    #: One of the four roles every region creates with the same UUID; never deleted.
    is_default: Mapped[bool] = mapped_column(default=False)
    #: Private roles are listed to root admins only.
    is_public: Mapped[bool] = mapped_column(default=True)
    state: Mapped[RoleState] = mapped_column(
        _enum(RoleState, "role_state"), default=RoleState.ENABLED
    )


class RolePermission(PublicEntity):
    """One rule of a role: a command name or wildcard (``list*``), allowed or denied.

    A role's rules are read in ``sort_order``; the first whose rule matches decides.
    """

    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    permission: Mapped[Permission] = mapped_column(_enum(Permission, "permission"))
    description: Mapped[str] = mapped_column(String(255), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    role: Mapped[Role] = relationship(lazy="joined")


class Domain(PublicEntity):
    __tablename__ = "domains"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    #: Full path from the root, ``ROOT/sales/emea``; prefix matches select a subtree.
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    network_domain: Mapped[str | None] = mapped_column(String(255))

    parent: Mapped[Domain | None] = relationship(
        remote_side="Domain.id", lazy="joined", join_depth=1
    )


class Account(PublicEntity):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    type: Mapped[int] = mapped_column(Integer)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"))
    state: Mapped[EntityState] = mapped_column(
        _enum(EntityState, "entity_state"), default=EntityState.ENABLED
    )
    network_domain: Mapped[str | None] = mapped_column(String(255))
    #: Free-form ``accountdetails`` given at creation (CloudStack's account_details).
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    domain: Mapped[Domain] = relationship(lazy="joined")
    role: Mapped[Role] = relationship(lazy="joined")


class User(PublicEntity):
    __tablename__ = "users"
    # CloudStack keeps user names unique within a domain, not just an account.
    __table_args__ = (UniqueConstraint("domain_id", "username"),)

    username: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    firstname: Mapped[str] = mapped_column(String(255))
    lastname: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[EntityState] = mapped_column(
        _enum(EntityState, "entity_state"), default=EntityState.ENABLED
    )
    api_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: The API secret key, encrypted with the region's key file (``security.keyring``).
    secret_key_encrypted: Mapped[str | None] = mapped_column(String(512))
    #: Consecutive failed logins; reaching the configured limit locks the user.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)

    account: Mapped[Account] = relationship(lazy="joined")


class SessionRevocation(Base):
    """A logged-out session token: sessions are signed tokens, so logout is a denylist row."""

    __tablename__ = "session_revocations"

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(String(36))
    revoked_at: Mapped[datetime]
    #: When the token would have expired anyway; the row may be deleted after that.
    expires_at: Mapped[datetime]
