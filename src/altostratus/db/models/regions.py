"""The region registry (a global table: every region lists every region)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base
from altostratus.timeutil import utcnow

__all__ = ["Region"]


class Region(Base):
    __tablename__ = "regions"

    #: CloudStack's region ids are operator-chosen integers (1 = the first region).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    endpoint: Mapped[str] = mapped_column(String(1024))
    gslb_service_enabled: Mapped[bool] = mapped_column(default=True)
    portable_ip_service_enabled: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime] = mapped_column(default=utcnow)
