"""The storage QoS parameters and response fields service and disk offerings share.

CloudStack spells the rate limits ``bytesreadrate`` … ``iopswriteratemaxlength`` as
parameters and ``diskBytesReadRate`` … ``diskIopsWriteRateMaxLength`` in answers, and
the cache mode ``cacheMode``; Ansible's offering modules read those exact keys.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from altostratus.api.params import Params
from altostratus.api.results import ResponseObject
from altostratus.db.models.catalog import CacheMode, ProvisioningType, StorageQos
from altostratus.services.catalog.storage_qos import RATE_FIELDS, StorageQosSpec

__all__ = ["StorageQosParams", "StorageQosResponse", "qos_fields", "qos_spec"]

Rate = Annotated[int, Field(ge=0, le=1 << 62)]
_BURST = "the burst it may reach; not below the rate"
_LENGTH = "how long, in seconds, the burst may last"


class StorageQosParams(Params):
    """What the disks made from an offering get (``services.catalog.storage_qos``)."""

    provisioningtype: ProvisioningType = Field(
        ProvisioningType.THIN, description="How volumes are allocated: thin, sparse or fat"
    )
    cachemode: CacheMode | None = Field(
        None, description="The disks' cache: none, writeback or writethrough"
    )
    customizediops: bool | None = Field(
        None, description="Managed storage: true lets each volume choose its IOPS"
    )
    miniops: Rate | None = Field(None, description="Managed storage: the IOPS guaranteed")
    maxiops: Rate | None = Field(None, description="Managed storage: the most IOPS allowed")
    hypervisorsnapshotreserve: int | None = Field(
        None, ge=0, le=1000, description="Snapshot reserve, in percent of a volume"
    )
    bytesreadrate: Rate | None = Field(None, description="Read limit, in bytes per second")
    bytesreadratemax: Rate | None = Field(None, description=_BURST)
    bytesreadratemaxlength: Rate | None = Field(None, description=_LENGTH)
    byteswriterate: Rate | None = Field(None, description="Write limit, in bytes per second")
    byteswriteratemax: Rate | None = Field(None, description=_BURST)
    byteswriteratemaxlength: Rate | None = Field(None, description=_LENGTH)
    iopsreadrate: Rate | None = Field(None, description="Read limit, in requests per second")
    iopsreadratemax: Rate | None = Field(None, description=_BURST)
    iopsreadratemaxlength: Rate | None = Field(None, description=_LENGTH)
    iopswriterate: Rate | None = Field(None, description="Write limit, in requests per second")
    iopswriteratemax: Rate | None = Field(None, description=_BURST)
    iopswriteratemaxlength: Rate | None = Field(None, description=_LENGTH)


def qos_spec(p: StorageQosParams, *, encrypt: bool) -> StorageQosSpec:
    """The QoS the parameters ask for, before the service's checks."""
    rates: dict[str, Any] = {column: getattr(p, parameter) for column, parameter in RATE_FIELDS}
    return StorageQosSpec(
        provisioning_type=p.provisioningtype,
        cache_mode=p.cachemode,
        encrypt=encrypt,
        customized_iops=p.customizediops,
        min_iops=p.miniops,
        max_iops=p.maxiops,
        hypervisor_snapshot_reserve=p.hypervisorsnapshotreserve,
        **rates,
    )


class StorageQosResponse(ResponseObject):
    """The QoS fields of an offering's answer (absent where no limit is set)."""

    provisioningtype: str
    cacheMode: str | None = None
    iscustomizediops: bool | None = None
    miniops: int | None = None
    maxiops: int | None = None
    hypervisorsnapshotreserve: int | None = None
    diskBytesReadRate: int | None = None
    diskBytesReadRateMax: int | None = None
    diskBytesReadRateMaxLength: int | None = None
    diskBytesWriteRate: int | None = None
    diskBytesWriteRateMax: int | None = None
    diskBytesWriteRateMaxLength: int | None = None
    diskIopsReadRate: int | None = None
    diskIopsReadRateMax: int | None = None
    diskIopsReadRateMaxLength: int | None = None
    diskIopsWriteRate: int | None = None
    diskIopsWriteRateMax: int | None = None
    diskIopsWriteRateMaxLength: int | None = None


def _answer_name(column: str) -> str:
    """``bytes_read_rate_max`` → ``diskBytesReadRateMax``."""
    return "disk" + "".join(part.title() for part in column.split("_"))


def qos_fields(offering: StorageQos) -> dict[str, Any]:
    """An offering's QoS as ``StorageQosResponse`` fields."""
    rates = {_answer_name(column): getattr(offering, column) for column, _param in RATE_FIELDS}
    return {
        "provisioningtype": offering.provisioning_type,
        "cacheMode": offering.cache_mode,
        "iscustomizediops": offering.customized_iops,
        "miniops": offering.min_iops,
        "maxiops": offering.max_iops,
        "hypervisorsnapshotreserve": offering.hypervisor_snapshot_reserve,
        **rates,
    }
