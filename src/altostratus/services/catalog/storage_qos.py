"""What an offering asks of the disks made from it: provisioning, cache, encryption, IOPS
and byte-rate limits (the ``StorageQos`` columns of service and disk offerings).

CloudStack has two kinds of limit and keeps them apart. The hypervisor throttles a
disk at its read and write rates (``bytesreadrate``, ``iopswriterate``, …, each with a
burst ``*max`` it may reach for ``*maxlength`` seconds); managed storage guarantees a
range of IOPS (``miniops``..``maxiops``), or lets each volume choose its own
(``customizediops``). An offering that says anything of ``customizediops`` is one for
managed storage: its hypervisor rates are dropped, as CloudStack drops them, and its
IOPS range checked. One that does not has no IOPS range.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from altostratus.db.models.catalog import ProvisioningType
from altostratus.errors import invalid

__all__ = ["RATE_FIELDS", "StorageQosSpec"]

#: The hypervisor's rate limits: (column, CloudStack parameter), the burst after its rate.
RATE_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f"{kind}_{direction}_rate{suffix}", f"{kind}{direction}rate{suffix.replace('_', '')}")
    for kind in ("bytes", "iops")
    for direction in ("read", "write")
    for suffix in ("", "_max", "_max_length")
)


@dataclass(frozen=True)
class StorageQosSpec:
    """An offering's storage QoS as given; field names are the ``StorageQos`` columns."""

    provisioning_type: str = ProvisioningType.THIN
    cache_mode: str | None = None
    encrypt: bool = False
    customized_iops: bool | None = None
    min_iops: int | None = None
    max_iops: int | None = None
    hypervisor_snapshot_reserve: int | None = None
    bytes_read_rate: int | None = None
    bytes_read_rate_max: int | None = None
    bytes_read_rate_max_length: int | None = None
    bytes_write_rate: int | None = None
    bytes_write_rate_max: int | None = None
    bytes_write_rate_max_length: int | None = None
    iops_read_rate: int | None = None
    iops_read_rate_max: int | None = None
    iops_read_rate_max_length: int | None = None
    iops_write_rate: int | None = None
    iops_write_rate_max: int | None = None
    iops_write_rate_max_length: int | None = None

    def columns(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def checked(self) -> StorageQosSpec:
        """The QoS as stored; 431 naming the parameter whose value cannot hold.

        A burst is never below its rate; for managed storage (``customized_iops`` given)
        the hypervisor rates go, and a fixed IOPS range needs ``miniops`` > 0 and no
        more than ``maxiops`` (CloudStack's rules and texts).
        """
        for (column, parameter), (burst, burst_parameter) in _RATE_AND_BURST:
            rate, most = getattr(self, column), getattr(self, burst)
            if rate is not None and most is not None and most < rate:
                raise invalid(burst_parameter, f"the burst is below {parameter}={rate}", value=most)
        if self.customized_iops is None:
            return replace(self, min_iops=None, max_iops=None)
        no_rates: dict[str, Any] = {column: None for column, _parameter in RATE_FIELDS}
        unrated = replace(self, **no_rates)
        if self.customized_iops:
            return replace(unrated, min_iops=None, max_iops=None)
        if self.min_iops is None and self.max_iops is None:
            return replace(unrated, min_iops=0, max_iops=0)
        if self.min_iops is None or self.min_iops <= 0:
            raise invalid("miniops", "The min IOPS must be greater than 0.", value=self.min_iops)
        max_iops = self.max_iops or 0
        if self.min_iops > max_iops:
            raise invalid(
                "maxiops",
                "The min IOPS must be less than or equal to the max IOPS.",
                value=self.max_iops,
            )
        return replace(unrated, max_iops=max_iops)


#: Each rate and its burst: ``bytes_read_rate`` with ``bytes_read_rate_max``, …
_RATE_AND_BURST = tuple(zip(RATE_FIELDS[0::3], RATE_FIELDS[1::3], strict=True))
