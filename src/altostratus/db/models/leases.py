"""Named leases: work one management server of the region does at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base

__all__ = ["Lease"]


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires: Mapped[datetime]
    #: Incremented at each change of owner, so a stale holder can be told apart.
    epoch: Mapped[int] = mapped_column(BigInteger, default=1)
