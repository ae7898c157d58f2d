"""Regional physical inventory: zones, pods and clusters."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity

__all__ = ["Cluster", "Pod", "Zone"]


class Zone(PublicEntity):
    __tablename__ = "zones"

    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(1024))
    network_type: Mapped[str] = mapped_column(String(32))
    dns1: Mapped[str] = mapped_column(String(64))
    dns2: Mapped[str | None] = mapped_column(String(64))
    internal_dns1: Mapped[str] = mapped_column(String(64))
    internal_dns2: Mapped[str | None] = mapped_column(String(64))
    ip6_dns1: Mapped[str | None] = mapped_column(String(64))
    ip6_dns2: Mapped[str | None] = mapped_column(String(64))
    guest_cidr: Mapped[str | None] = mapped_column(String(64))
    network_domain: Mapped[str | None] = mapped_column(String(255))
    #: A zone dedicated to one domain; ``None`` means public.
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    allocation_state: Mapped[str] = mapped_column(String(32), default="Enabled")
    security_group_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    local_storage_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Pod(PublicEntity):
    __tablename__ = "pods"
    __table_args__ = (UniqueConstraint("zone_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    start_ip: Mapped[str | None] = mapped_column(String(64))
    end_ip: Mapped[str | None] = mapped_column(String(64))
    allocation_state: Mapped[str] = mapped_column(String(32), default="Enabled")

    zone: Mapped[Zone] = relationship(lazy="joined")


class Cluster(PublicEntity):
    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("pod_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    pod_id: Mapped[int] = mapped_column(ForeignKey("pods.id"))
    hypervisor: Mapped[str] = mapped_column(String(32))
    cluster_type: Mapped[str] = mapped_column(String(32), default="CloudManaged")
    allocation_state: Mapped[str] = mapped_column(String(32), default="Enabled")
    managed_state: Mapped[str] = mapped_column(String(32), default="Managed")

    pod: Mapped[Pod] = relationship(lazy="joined")
