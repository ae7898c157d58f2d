"""Projects: a regional group of accounts sharing the resources of one project account.

As in CloudStack, a project owns nothing itself: an account of type ``PROJECT``, made
with the project, owns its VMs, volumes and networks, so every rule about owners
(limits, listings, teardown) applies unchanged. The tables here are regional (the
Regions spec: projects are not replicated), and so is that account, although it lives
in the global ``accounts`` table: ``federation.entities`` keeps it out of replication.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import Base, PublicEntity
from altostratus.db.models.identity import Account, Domain
from altostratus.timeutil import utcnow

__all__ = ["Project", "ProjectMember", "ProjectRole", "ProjectState"]


class ProjectState(enum.StrEnum):
    ACTIVE = "Active"
    #: Its VMs are stopped and nothing new may be created for it.
    SUSPENDED = "Suspended"
    DISABLED = "Disabled"


class ProjectRole(enum.StrEnum):
    """A member's role in a project: admins manage the project, regular members use it."""

    ADMIN = "Admin"
    REGULAR = "Regular"


class Project(PublicEntity):
    __tablename__ = "projects"
    # CloudStack keeps project names unique within a domain.
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    #: The project account that owns the project's resources.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    state: Mapped[str] = mapped_column(String(32), default=ProjectState.ACTIVE)

    domain: Mapped[Domain] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined", overlaps="domain")


class ProjectMember(Base):
    """An account's membership of a project (CloudStack's ``project_account``)."""

    __tablename__ = "project_accounts"
    __table_args__ = (UniqueConstraint("project_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(lazy="joined")
