"""Out-of-band management: how to reach each host's BMC, and where it is switched on.

A host's BMC settings are one row per host. Zones and clusters only carry a switch:
CloudStack keeps it as a detail that is on unless an operator turned it off, so a row
exists only once someone enabled or disabled out-of-band management there. A host's
out-of-band management is effective only when its own row is enabled and neither its
cluster nor its zone is switched off (``ha.oobm.service.oobm_effective``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base

__all__ = ["OutOfBandCluster", "OutOfBandManagement", "OutOfBandZone"]


class OutOfBandManagement(Base):
    """A host's BMC: driver, address and credentials, and the power state last read."""

    __tablename__ = "out_of_band_management"

    host_id: Mapped[int] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    #: Off after configuring, as in CloudStack: an operator enables it explicitly.
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``ipmitool`` or ``redfish`` (``ha.oobm.drivers.DriverName``).
    driver: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(255))
    #: Encrypted with the region's keyring; never shown.
    password: Mapped[str] = mapped_column(Text)
    #: ``On``, ``Off`` or ``Unknown`` (``ha.oobm.drivers.PowerState``).
    power_state: Mapped[str] = mapped_column(String(16), default="Unknown")
    #: When ``power_state`` was read from the BMC (``None``: never).
    power_state_read: Mapped[datetime | None]


class OutOfBandCluster(Base):
    """The cluster-level switch (``enable|disableOutOfBandManagementForCluster``)."""

    __tablename__ = "out_of_band_clusters"

    cluster_id: Mapped[int] = mapped_column(
        ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    enabled: Mapped[bool] = mapped_column(Boolean)


class OutOfBandZone(Base):
    """The zone-level switch (``enable|disableOutOfBandManagementForZone``)."""

    __tablename__ = "out_of_band_zones"

    zone_id: Mapped[int] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
