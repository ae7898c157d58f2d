"""Region-wide values every management server of a region shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base
from altostratus.timeutil import utcnow

__all__ = ["ConfigurationValue", "SystemValue"]


class SystemValue(Base):
    """A named value written at bootstrap.

    Secrets (the session-signing key, ``key-check``) are stored as ciphertext of the
    region's key file; ``key-check`` lets a server with the wrong key file refuse to
    start instead of rejecting every signature.
    """

    __tablename__ = "system_values"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConfigurationValue(Base):
    """An override of a run-time setting (``updateConfiguration``) in one scope.

    Regional, as CloudStack's configuration is per management cluster. ``scope_id`` is
    the local id of the zone, cluster, domain or account, 0 for ``global``; no foreign
    key, so one table holds every scope.
    """

    __tablename__ = "configuration_values"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(default=utcnow)
