"""What an account keeps besides its workloads: key pairs, affinity groups, tags, limits."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import Base, PublicEntity
from altostratus.db.models.identity import Account, Domain

__all__ = [
    "AffinityGroup",
    "ResourceLimit",
    "ResourceTag",
    "SshKeyPair",
    "affinity_group_members",
]


class SshKeyPair(PublicEntity):
    __tablename__ = "ssh_key_pairs"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(Text)

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")


affinity_group_members = Table(
    "affinity_group_members",
    Base.metadata,
    Column("affinity_group_id", ForeignKey("affinity_groups.id"), primary_key=True),
    Column("vm_id", ForeignKey("virtual_machines.id", ondelete="CASCADE"), primary_key=True),
)


class AffinityGroup(PublicEntity):
    __tablename__ = "affinity_groups"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096))
    #: ``host affinity`` or ``host anti-affinity`` (CloudStack's type names).
    type: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")


class ResourceTag(PublicEntity):
    __tablename__ = "resource_tags"
    __table_args__ = (UniqueConstraint("resource_type", "resource_uuid", "key"),)

    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    #: CloudStack's names: ``UserVm``, ``Volume``, ``Snapshot``, ``Template``, …
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_uuid: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    customer: Mapped[str | None] = mapped_column(String(255))

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")


class ResourceLimit(Base):
    """A limit set for an account or a domain; absent means the default (unlimited).

    ``resource_type`` is CloudStack's number (0 instances, 1 public IPs, 2 volumes,
    3 snapshots, 4 templates, 8 CPU cores, 9 memory MB, 10 primary storage GB, …).
    """

    __tablename__ = "resource_limits"
    __table_args__ = (UniqueConstraint("account_id", "domain_id", "resource_type"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    resource_type: Mapped[int] = mapped_column(Integer)
    #: -1 is unlimited.
    max: Mapped[int] = mapped_column(BigInteger)
