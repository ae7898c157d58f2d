"""What every BMC driver offers: a power call that answers the state read after it, and
a password change on the BMC.

A driver talks to one BMC with one set of credentials. Every failure (the BMC refused
the request, the credentials are wrong, it could not be reached in time) is an
``OutOfBandError`` whose text says which, and never contains the password.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from altostratus.errors import ResourceUnavailable

__all__ = [
    "BmcDriver",
    "BmcTarget",
    "DriverName",
    "OutOfBandError",
    "PowerAction",
    "PowerState",
]


class PowerAction(enum.StrEnum):
    """CloudStack's power operations (``issueOutOfBandManagementPowerAction`` ``action``)."""

    ON = "ON"
    OFF = "OFF"
    CYCLE = "CYCLE"
    RESET = "RESET"
    SOFT = "SOFT"
    STATUS = "STATUS"

    @classmethod
    def _missing_(cls, value: object) -> PowerAction | None:
        wanted = str(value).upper()
        return next((member for member in cls if member.value == wanted), None)


class PowerState(enum.StrEnum):
    ON = "On"
    OFF = "Off"
    UNKNOWN = "Unknown"


class DriverName(enum.StrEnum):
    """CloudStack's driver names (``configureOutOfBandManagement`` ``driver``)."""

    IPMITOOL = "ipmitool"
    REDFISH = "redfish"

    @classmethod
    def _missing_(cls, value: object) -> DriverName | None:
        wanted = str(value).lower()
        return next((member for member in cls if member.value == wanted), None)


class OutOfBandError(ResourceUnavailable):
    """The BMC could not be used: not configured or enabled, refused, or unreachable.

    534 (resource unavailable): the request was well formed, the host's BMC is what
    failed it.
    """


@dataclass(frozen=True)
class BmcTarget:
    """Where a BMC is and how to log in; ``timeout`` bounds one whole power call."""

    address: str
    port: int
    username: str
    password: str = field(repr=False)
    timeout: float

    @property
    def name(self) -> str:
        """The BMC as error messages show it (no credentials)."""
        return f"{self.address}:{self.port}"


class BmcDriver(Protocol):
    async def power(self, action: PowerAction) -> PowerState:
        """Do ``action`` and answer the power state read after it (STATUS only reads).

        Raises ``OutOfBandError``.
        """
        ...

    async def change_password(self, new_password: str) -> None:
        """Set the target user's password on the BMC; raises ``OutOfBandError``."""
        ...
