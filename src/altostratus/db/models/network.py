"""Guest networking at the level clients need: shared networks, addresses, security groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import Base, PublicEntity
from altostratus.db.models.catalog import ServiceOffering
from altostratus.db.models.compute import VirtualMachine
from altostratus.db.models.identity import Account, Domain
from altostratus.db.models.inventory import Zone

__all__ = [
    "IpAddress",
    "Network",
    "NetworkOffering",
    "Nic",
    "SecurityGroup",
    "SecurityGroupRule",
    "vm_security_groups",
]


class NetworkOffering(PublicEntity):
    """What a network built from it provides; only an Enabled one builds new networks."""

    __tablename__ = "network_offerings"

    name: Mapped[str] = mapped_column(String(255), unique=True)
    display_text: Mapped[str] = mapped_column(String(4096))
    guest_ip_type: Mapped[str] = mapped_column(String(32))
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    #: Comma-separated services, each ``Service`` (its default provider) or
    #: ``Service:Provider`` (``Dhcp:VirtualRouter,SecurityGroup``).
    services: Mapped[str] = mapped_column(String(1024), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    specify_ip_ranges: Mapped[bool] = mapped_column(Boolean, default=True)
    specify_vlan: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    #: ``Optional`` or ``Required`` (the default offering for new networks).
    availability: Mapped[str] = mapped_column(String(16), default="Optional")
    conserve_mode: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``True``: guest traffic leaving the network is allowed unless a rule denies it.
    egress_default_policy: Mapped[bool] = mapped_column(Boolean, default=True)
    is_persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    for_vpc: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Mbit/s; ``None``: unlimited.
    network_rate: Mapped[int | None] = mapped_column(Integer)
    max_connections: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[str | None] = mapped_column(String(4096))
    #: Offered to this domain's subtree only; ``None``: to every domain.
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    #: Networks of this zone only; ``None``: of every zone.
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    #: The system offering of the networks' virtual routers (``serviceofferingid``).
    service_offering_id: Mapped[int | None] = mapped_column(ForeignKey("service_offerings.id"))

    domain: Mapped[Domain | None] = relationship(lazy="joined")
    zone: Mapped[Zone | None] = relationship(lazy="joined")
    service_offering: Mapped[ServiceOffering | None] = relationship(lazy="joined")


class Network(PublicEntity):
    """A guest network of a zone; addresses come from ``start_ip`` to ``end_ip``."""

    __tablename__ = "networks"
    __table_args__ = (UniqueConstraint("zone_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str] = mapped_column(String(4096))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    network_offering_id: Mapped[int] = mapped_column(ForeignKey("network_offerings.id"))
    #: ``Shared`` (one per zone, everyone's) or ``Isolated``.
    guest_type: Mapped[str] = mapped_column(String(32), default="Shared")
    traffic_type: Mapped[str] = mapped_column(String(32), default="Guest")
    cidr: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))
    vlan: Mapped[str | None] = mapped_column(String(64))
    dns1: Mapped[str | None] = mapped_column(String(64))
    dns2: Mapped[str | None] = mapped_column(String(64))
    network_domain: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), default="Implemented")
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``None`` for a shared network; the owner of an isolated one.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    removed: Mapped[datetime | None]

    zone: Mapped[Zone] = relationship(lazy="joined")
    network_offering: Mapped[NetworkOffering] = relationship(lazy="joined")


class IpAddress(PublicEntity):
    """An address taken from a network's range, by a NIC or as a public address.

    The unique key on (network, address) is what makes allocation safe under
    concurrency: two requests that pick the same free address cannot both commit.
    """

    __tablename__ = "ip_addresses"
    __table_args__ = (UniqueConstraint("network_id", "address"),)

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    address: Mapped[str] = mapped_column(String(64))
    #: ``nic`` (a VM's guest address) or ``public`` (``associateIpAddress``).
    purpose: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    vm_id: Mapped[int | None] = mapped_column(ForeignKey("virtual_machines.id"))
    is_source_nat: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="Allocated")

    network: Mapped[Network] = relationship(lazy="joined")
    account: Mapped[Account | None] = relationship(lazy="joined")
    domain: Mapped[Domain | None] = relationship(lazy="joined", overlaps="account")


class Nic(PublicEntity):
    __tablename__ = "nics"

    vm_id: Mapped[int] = mapped_column(ForeignKey("virtual_machines.id"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    ip_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("ip_addresses.id", ondelete="SET NULL")
    )
    ip_address: Mapped[str | None] = mapped_column(String(64))
    netmask: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    device_id: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    removed: Mapped[datetime | None]

    network: Mapped[Network] = relationship(lazy="joined")
    vm: Mapped[VirtualMachine] = relationship(lazy="joined")


vm_security_groups = Table(
    "vm_security_groups",
    Base.metadata,
    Column("vm_id", ForeignKey("virtual_machines.id", ondelete="CASCADE"), primary_key=True),
    Column("security_group_id", ForeignKey("security_groups.id"), primary_key=True),
)


class SecurityGroup(PublicEntity):
    __tablename__ = "security_groups"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
    rules: Mapped[list[SecurityGroupRule]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        back_populates="security_group",
        foreign_keys="SecurityGroupRule.security_group_id",
    )


class SecurityGroupRule(PublicEntity):
    __tablename__ = "security_group_rules"

    security_group_id: Mapped[int] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    #: ``ingress`` or ``egress``.
    direction: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[str] = mapped_column(String(16))
    start_port: Mapped[int | None] = mapped_column(Integer)
    end_port: Mapped[int | None] = mapped_column(Integer)
    icmp_type: Mapped[int | None] = mapped_column(Integer)
    icmp_code: Mapped[int | None] = mapped_column(Integer)
    cidr: Mapped[str | None] = mapped_column(String(64))
    #: Traffic from the members of another group (``usersecuritygrouplist``).
    source_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE")
    )

    security_group: Mapped[SecurityGroup] = relationship(
        back_populates="rules", foreign_keys=[security_group_id]
    )
    source_group: Mapped[SecurityGroup | None] = relationship(
        lazy="joined", foreign_keys=[source_group_id]
    )
