"""Tenant workloads: virtual machines, their volumes and volume snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.catalog import DiskOffering, ServiceOffering, Template
from altostratus.db.models.hosts import Host
from altostratus.db.models.identity import Account, Domain
from altostratus.db.models.inventory import Zone, _Vocabulary

__all__ = [
    "InstanceGroup",
    "PowerState",
    "Snapshot",
    "SnapshotInterval",
    "SnapshotPolicy",
    "SnapshotState",
    "VirtualMachine",
    "VmSnapshot",
    "VmSnapshotState",
    "VmState",
    "Volume",
    "VolumeState",
    "VolumeType",
]


class VmState(_Vocabulary):
    """CloudStack's VM states."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    MIGRATING = "Migrating"
    ERROR = "Error"
    UNKNOWN = "Unknown"


class PowerState(_Vocabulary):
    """What the host's agent last reported for the VM."""

    ON = "PowerOn"
    OFF = "PowerOff"
    UNKNOWN = "PowerUnknown"
    MISSING = "PowerReportMissing"


class InstanceGroup(PublicEntity):
    """A name an account files its VMs under (``createInstanceGroup``); a VM is in one at most."""

    __tablename__ = "instance_groups"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")


class VirtualMachine(PublicEntity):
    __tablename__ = "virtual_machines"
    __table_args__ = (
        # A name is the guest's host name: unique among an account's VMs until expunged,
        # enforced here so two concurrent deploys cannot both take it.
        Index(
            "uq_virtual_machines_live_name",
            "account_id",
            "name",
            unique=True,
            sqlite_where=text("removed IS NULL"),
            postgresql_where=text("removed IS NULL"),
        ),
    )

    #: The guest's host name (``name``); ``display_name`` is free text.
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255))
    #: The hypervisor's name of the domain, unique in the region (``i-<account>-<vm>-VM``).
    instance_name: Mapped[str] = mapped_column(String(255), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    #: Where it runs or last ran; the capacity it reserves is counted on this host.
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    last_host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    service_offering_id: Mapped[int] = mapped_column(ForeignKey("service_offerings.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id"))
    state: Mapped[str] = mapped_column(String(32), default=VmState.STOPPED, index=True)
    power_state: Mapped[str] = mapped_column(String(32), default=PowerState.OFF)
    power_state_updated: Mapped[datetime | None]
    #: Copied from the offering at deploy: what the VM reserves on its host.
    cpu_number: Mapped[int] = mapped_column(Integer)
    cpu_speed: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    ha_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``scaleVirtualMachine`` may change its offering while it runs (CloudStack's
    #: ``isdynamicallyscalable``); the hypervisor then gets room to grow into.
    dynamically_scalable: Mapped[bool] = mapped_column(Boolean, default=False)
    user_data: Mapped[str | None] = mapped_column(Text)
    keypair: Mapped[str | None] = mapped_column(String(255))
    #: Its instance group; deleting the group takes the VMs out of it.
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("instance_groups.id", ondelete="SET NULL"), index=True
    )
    removed: Mapped[datetime | None] = mapped_column(index=True)

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
    zone: Mapped[Zone] = relationship(lazy="joined")
    host: Mapped[Host | None] = relationship(lazy="joined", foreign_keys=[host_id])
    service_offering: Mapped[ServiceOffering] = relationship(lazy="joined")
    template: Mapped[Template] = relationship(lazy="joined")
    group: Mapped[InstanceGroup | None] = relationship(lazy="joined")


class VmSnapshotState(_Vocabulary):
    """CloudStack's VM snapshot states."""

    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    EXPUNGING = "Expunging"
    ERROR = "Error"


class VmSnapshot(PublicEntity):
    """A snapshot of a whole VM (its disks, and its memory if ``memory``), kept on a host."""

    __tablename__ = "vm_snapshots"

    #: The hypervisor's name of it (``<instance>_VS_<time>``); ``display_name`` is free.
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096))
    vm_id: Mapped[int] = mapped_column(ForeignKey("virtual_machines.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    #: The host whose hypervisor holds it: the VM's host when it was taken.
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    state: Mapped[str] = mapped_column(String(32), default=VmSnapshotState.CREATING)
    memory: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The snapshot the VM was last taken or reverted to; the next one's parent.
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_uuid: Mapped[str | None] = mapped_column(String(36))
    removed: Mapped[datetime | None] = mapped_column(index=True)

    vm: Mapped[VirtualMachine] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
    zone: Mapped[Zone] = relationship(lazy="joined")


class VolumeType(_Vocabulary):
    ROOT = "ROOT"
    DATADISK = "DATADISK"


class VolumeState(_Vocabulary):
    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    RESIZING = "Resizing"
    DESTROY = "Destroy"
    EXPUNGED = "Expunged"


class Volume(PublicEntity):
    __tablename__ = "volumes"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    vm_id: Mapped[int | None] = mapped_column(ForeignKey("virtual_machines.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    #: Slot on the VM (0 is the root disk).
    device_id: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    disk_offering_id: Mapped[int | None] = mapped_column(ForeignKey("disk_offerings.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    state: Mapped[str] = mapped_column(String(32), default=VolumeState.ALLOCATED)
    #: The host whose storage holds it (set when first used).
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"))
    path: Mapped[str | None] = mapped_column(String(1024))
    attached: Mapped[datetime | None]
    removed: Mapped[datetime | None] = mapped_column(index=True)

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
    zone: Mapped[Zone] = relationship(lazy="joined")
    vm: Mapped[VirtualMachine | None] = relationship(lazy="joined")
    disk_offering: Mapped[DiskOffering | None] = relationship(lazy="joined")


class SnapshotState(_Vocabulary):
    ALLOCATED = "Allocated"
    BACKING_UP = "BackingUp"
    BACKED_UP = "BackedUp"
    ERROR = "Error"
    DESTROYED = "Destroyed"


class Snapshot(PublicEntity):
    __tablename__ = "snapshots"

    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"), index=True)
    state: Mapped[str] = mapped_column(String(32), default=SnapshotState.ALLOCATED)
    snapshot_type: Mapped[str] = mapped_column(String(16), default="MANUAL")
    interval_type: Mapped[str] = mapped_column(String(16), default="MANUAL")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str | None] = mapped_column(String(1024))
    removed: Mapped[datetime | None] = mapped_column(index=True)

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
    zone: Mapped[Zone] = relationship(lazy="joined")
    volume: Mapped[Volume] = relationship(lazy="joined")


class SnapshotInterval(_Vocabulary):
    """A recurring snapshot's interval; ``code`` is the number CloudStack answers."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"

    @property
    def code(self) -> int:
        return list(SnapshotInterval).index(self)


class SnapshotPolicy(PublicEntity):
    """When to snapshot a volume and how many of those snapshots to keep.

    One per volume and interval, as CloudStack has it: ``createSnapshotPolicy`` for an
    interval the volume already has changes that policy. ``next_run`` is the UTC moment
    of the next snapshot, worked out from ``schedule`` in ``timezone`` each time one is
    taken (``services.storage.snapshot_schedule``).
    """

    __tablename__ = "snapshot_policies"
    __table_args__ = (UniqueConstraint("volume_id", "interval_type"),)

    volume_id: Mapped[int] = mapped_column(ForeignKey("volumes.id"), index=True)
    interval_type: Mapped[str] = mapped_column(String(16))
    schedule: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    max_snaps: Mapped[int] = mapped_column(Integer)
    for_display: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run: Mapped[datetime] = mapped_column(index=True)

    volume: Mapped[Volume] = relationship(lazy="joined")
