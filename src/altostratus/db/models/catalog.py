"""What users choose from: service and disk offerings, OS types and templates."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.identity import Account, Domain
from altostratus.db.models.inventory import Zone, _Vocabulary

__all__ = [
    "CacheMode",
    "DiskOffering",
    "DownloadState",
    "OsType",
    "ProvisioningType",
    "ServiceOffering",
    "StorageQos",
    "StorageType",
    "SystemVmType",
    "Template",
    "TemplateFormat",
    "TemplateState",
]


class StorageType(_Vocabulary):
    SHARED = "shared"
    LOCAL = "local"


class ProvisioningType(_Vocabulary):
    """How a volume's disk is allocated on its storage (CloudStack's spellings)."""

    THIN = "thin"
    SPARSE = "sparse"
    FAT = "fat"


class CacheMode(_Vocabulary):
    """The hypervisor's cache for a volume's disk."""

    NONE = "none"
    WRITEBACK = "writeback"
    WRITETHROUGH = "writethrough"


class SystemVmType(_Vocabulary):
    """What a system offering sizes: CloudStack's three kinds of system VM."""

    DOMAIN_ROUTER = "domainrouter"
    CONSOLE_PROXY = "consoleproxy"
    SECONDARY_STORAGE_VM = "secondarystoragevm"


class TemplateFormat(_Vocabulary):
    QCOW2 = "QCOW2"
    RAW = "RAW"
    VHD = "VHD"
    OVA = "OVA"
    ISO = "ISO"


class TemplateState(enum.StrEnum):
    """CloudStack's template ``status`` texts (a download in progress shows its percent)."""

    READY = "Download Complete"
    ERROR = "Download Error"
    DOWNLOADING = "Downloading"


class DownloadState(enum.StrEnum):
    """Where a template's bytes are (CloudStack's download states of an image)."""

    #: Registered; no server has started fetching it yet, or one died doing so.
    NOT_DOWNLOADED = "NOT_DOWNLOADED"
    DOWNLOADING = "DOWNLOAD_IN_PROGRESS"
    #: Complete and verified in the image store, or a path on the hosts (``file:///``).
    DOWNLOADED = "DOWNLOADED"
    DOWNLOAD_ERROR = "DOWNLOAD_ERROR"


class StorageQos:
    """What an offering asks of the disks made from it: a service offering of its VMs'
    root disks, a disk offering of its volumes. ``None`` rates and IOPS mean no limit.

    The ``*_max`` rates are bursts a disk may reach for ``*_max_length`` seconds.
    """

    provisioning_type: Mapped[str] = mapped_column(String(16), default=ProvisioningType.THIN)
    cache_mode: Mapped[str | None] = mapped_column(String(16))
    encrypt: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``None``: IOPS do not apply (not managed storage); ``True``: the volume chooses.
    customized_iops: Mapped[bool | None] = mapped_column(Boolean)
    min_iops: Mapped[int | None] = mapped_column(BigInteger)
    max_iops: Mapped[int | None] = mapped_column(BigInteger)
    hypervisor_snapshot_reserve: Mapped[int | None] = mapped_column(Integer)
    bytes_read_rate: Mapped[int | None] = mapped_column(BigInteger)
    bytes_read_rate_max: Mapped[int | None] = mapped_column(BigInteger)
    bytes_read_rate_max_length: Mapped[int | None] = mapped_column(BigInteger)
    bytes_write_rate: Mapped[int | None] = mapped_column(BigInteger)
    bytes_write_rate_max: Mapped[int | None] = mapped_column(BigInteger)
    bytes_write_rate_max_length: Mapped[int | None] = mapped_column(BigInteger)
    iops_read_rate: Mapped[int | None] = mapped_column(BigInteger)
    iops_read_rate_max: Mapped[int | None] = mapped_column(BigInteger)
    iops_read_rate_max_length: Mapped[int | None] = mapped_column(BigInteger)
    iops_write_rate: Mapped[int | None] = mapped_column(BigInteger)
    iops_write_rate_max: Mapped[int | None] = mapped_column(BigInteger)
    iops_write_rate_max_length: Mapped[int | None] = mapped_column(BigInteger)


class ServiceOffering(StorageQos, PublicEntity):
    """CPU and memory of a VM, and the host tags its host must carry.

    A system offering (``is_system``) sizes a system VM of ``system_vm_type``; it is
    listed only with ``issystem=true`` and never deploys a user's VM.
    """

    __tablename__ = "service_offerings"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str] = mapped_column(String(4096))
    cpu_number: Mapped[int] = mapped_column(Integer)
    #: MHz per core.
    cpu_speed: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    #: Comma-separated, lower case, sorted; a host must carry every one.
    host_tags: Mapped[str] = mapped_column(String(1024), default="")
    offer_ha: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_type: Mapped[str] = mapped_column(String(16), default=StorageType.SHARED)
    limit_cpu_use: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Its VMs may be resized while they run (if they and their zone allow it too).
    dynamic_scaling_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Storage tags of the root disk, comma-separated in the order given.
    storage_tags: Mapped[str] = mapped_column(String(1024), default="")
    is_volatile: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Mbit/s; ``None``: the network's rate.
    network_rate: Mapped[int | None] = mapped_column(Integer)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    system_vm_type: Mapped[str | None] = mapped_column(String(32))
    #: Offered to this domain's subtree only; ``None``: to everyone.
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    #: Offerings are retired, not deleted: VMs keep pointing at theirs.
    removed: Mapped[datetime | None]

    domain: Mapped[Domain | None] = relationship(lazy="joined")


class DiskOffering(StorageQos, PublicEntity):
    __tablename__ = "disk_offerings"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str] = mapped_column(String(4096))
    #: ``None`` for a custom-size offering (the size comes with the request).
    disk_size_gb: Mapped[int | None] = mapped_column(Integer)
    is_customized: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_type: Mapped[str] = mapped_column(String(16), default=StorageType.SHARED)
    #: Storage tags, comma-separated in the order given.
    tags: Mapped[str] = mapped_column(String(1024), default="")
    #: Shown to users (``displayoffering``); root admins always see it.
    display_offering: Mapped[bool] = mapped_column(Boolean, default=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    removed: Mapped[datetime | None]

    domain: Mapped[Domain | None] = relationship(lazy="joined")


class OsType(PublicEntity):
    __tablename__ = "os_types"

    description: Mapped[str] = mapped_column(String(255), unique=True)
    category: Mapped[str] = mapped_column(String(64))


class Template(PublicEntity):
    """A disk image: the region downloads an ``http(s)`` one into its image store; a
    ``file:///`` one is a path on the hosts, which their agents read themselves."""

    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(255))
    display_text: Mapped[str] = mapped_column(String(4096))
    #: ``http(s)://…`` or ``file:///…`` (a path on the hosts).
    url: Mapped[str] = mapped_column(String(2048))
    format: Mapped[str] = mapped_column(String(16))
    hypervisor: Mapped[str] = mapped_column(String(32))
    os_type_id: Mapped[int] = mapped_column(ForeignKey("os_types.id"))
    #: ``None``: usable in every zone of the region (``crossZones``).
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    is_extractable: Mapped[bool] = mapped_column(Boolean, default=False)
    password_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ssh_key_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    bootable: Mapped[bool] = mapped_column(Boolean, default=True)
    checksum: Mapped[str | None] = mapped_column(String(255))
    #: Bytes of the image (its virtual size, for the root disks made from it).
    size: Mapped[int | None] = mapped_column(BigInteger)
    #: Bytes it takes in the image store.
    physical_size: Mapped[int | None] = mapped_column(BigInteger)
    #: CloudStack's ``status`` text: "Downloading", "45% Downloaded", an error's cause.
    status: Mapped[str] = mapped_column(String(1024), default=TemplateState.READY)
    download_state: Mapped[str] = mapped_column(String(32), default=DownloadState.DOWNLOADED)
    #: The store and key holding its bytes once downloaded.
    image_store_id: Mapped[int | None] = mapped_column(ForeignKey("image_stores.id"))
    object_key: Mapped[str | None] = mapped_column(String(512))
    removed: Mapped[datetime | None]

    os_type: Mapped[OsType] = relationship(lazy="joined")
    zone: Mapped[Zone | None] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined", overlaps="account")
