"""Regional physical inventory: zones, pods and clusters, and the words that describe them.

The state columns are plain strings holding the values of the enums below, so adding a
hypervisor or a state needs no schema change.
"""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.identity import Domain

__all__ = [
    "AllocationState",
    "Cluster",
    "ClusterType",
    "Hypervisor",
    "ManagedState",
    "NetworkType",
    "Pod",
    "Zone",
]


class _Vocabulary(enum.StrEnum):
    """CloudStack's spellings; input is matched case-insensitively (``kvm`` is ``KVM``)."""

    @classmethod
    def _missing_(cls, value: object) -> _Vocabulary | None:
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.lower():
                    return member
        return None


class AllocationState(_Vocabulary):
    """Whether new resources may be placed in a zone, pod or cluster."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"


class NetworkType(_Vocabulary):
    BASIC = "Basic"
    ADVANCED = "Advanced"


class Hypervisor(_Vocabulary):
    KVM = "KVM"
    XENSERVER = "XenServer"
    VMWARE = "VMware"
    HYPERV = "Hyperv"
    LXC = "LXC"
    OVM3 = "Ovm3"
    SIMULATOR = "Simulator"


class ClusterType(_Vocabulary):
    """Whether the hosts are driven by us (CloudManaged) or by e.g. vCenter (ExternalManaged)."""

    CLOUD_MANAGED = "CloudManaged"
    EXTERNAL_MANAGED = "ExternalManaged"


class ManagedState(_Vocabulary):
    """An Unmanaged cluster is left alone by the management server (e.g. for maintenance)."""

    MANAGED = "Managed"
    UNMANAGED = "Unmanaged"


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
    allocation_state: Mapped[str] = mapped_column(String(32), default=AllocationState.ENABLED)
    security_group_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    local_storage_enabled: Mapped[bool] = mapped_column(Boolean, default=False)

    #: The dedicated domain (a global row; regional rows may point at global ones).
    domain: Mapped[Domain | None] = relationship(lazy="joined")


class Pod(PublicEntity):
    __tablename__ = "pods"
    __table_args__ = (UniqueConstraint("zone_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    gateway: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    start_ip: Mapped[str | None] = mapped_column(String(64))
    end_ip: Mapped[str | None] = mapped_column(String(64))
    allocation_state: Mapped[str] = mapped_column(String(32), default=AllocationState.ENABLED)

    zone: Mapped[Zone] = relationship(lazy="joined")


class Cluster(PublicEntity):
    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("pod_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    pod_id: Mapped[int] = mapped_column(ForeignKey("pods.id"))
    hypervisor: Mapped[str] = mapped_column(String(32))
    cluster_type: Mapped[str] = mapped_column(String(32), default=ClusterType.CLOUD_MANAGED)
    allocation_state: Mapped[str] = mapped_column(String(32), default=AllocationState.ENABLED)
    managed_state: Mapped[str] = mapped_column(String(32), default=ManagedState.MANAGED)

    pod: Mapped[Pod] = relationship(lazy="joined")
