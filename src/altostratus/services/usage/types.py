"""CloudStack's usage types: the ids and descriptions its clients and billing tools know."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["UsageType"]


class UsageType(IntEnum):
    """The types this region meters, with CloudStack's ids (``UsageTypes.java``)."""

    RUNNING_VM = 1
    ALLOCATED_VM = 2
    IP_ADDRESS = 3
    VOLUME = 6
    TEMPLATE = 7
    SNAPSHOT = 9
    NETWORK_OFFERING = 13
    VM_SNAPSHOT = 25

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    UsageType.RUNNING_VM: "Running Vm Usage",
    UsageType.ALLOCATED_VM: "Allocated Vm Usage",
    UsageType.IP_ADDRESS: "IP Address Usage",
    UsageType.VOLUME: "Volume Usage",
    UsageType.TEMPLATE: "Template Usage",
    UsageType.SNAPSHOT: "Snapshot Usage",
    UsageType.NETWORK_OFFERING: "Network Offering Usage",
    UsageType.VM_SNAPSHOT: "VM Snapshot storage usage",
}
