"""Metered usage (``listUsageRecords``): one row per object, usage type and period.

A record keeps copies of its owner's ids, names and domain path, as an event does, so
it outlives what it describes and a domain admin's listing is a prefix match. The
unique key on (type, object, period start) is what makes generation idempotent: two
servers metering the same period insert the same keys, and the second insert is ignored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base

__all__ = ["UsageRecord"]


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("usage_type", "usage_uuid", "start_date"),
        Index("ix_usage_records_account_period", "account_uuid", "start_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: CloudStack's usage type id (``services.usage.types``).
    usage_type: Mapped[int] = mapped_column(Integer)
    #: The metered object (VM, volume, address, NIC, ...).
    usage_uuid: Mapped[str] = mapped_column(String(36))
    start_date: Mapped[datetime] = mapped_column(index=True)
    end_date: Mapped[datetime]
    #: Hours the object was in the metered state during the period.
    raw_usage: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    account_uuid: Mapped[str] = mapped_column(String(36))
    account_name: Mapped[str] = mapped_column(String(255))
    domain_uuid: Mapped[str] = mapped_column(String(36))
    domain_path: Mapped[str] = mapped_column(String(1024), index=True)
    zone_uuid: Mapped[str | None] = mapped_column(String(36))
    vm_uuid: Mapped[str | None] = mapped_column(String(36))
    #: The object's name (a VM's, a volume's, an address itself).
    name: Mapped[str | None] = mapped_column(String(255))
    offering_uuid: Mapped[str | None] = mapped_column(String(36))
    template_uuid: Mapped[str | None] = mapped_column(String(36))
    #: Bytes, for volumes, templates and snapshots.
    size: Mapped[int | None] = mapped_column(BigInteger)
