"""Region-wide values every management server of a region shares."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import Base

__all__ = ["SystemValue"]


class SystemValue(Base):
    """A named value written at bootstrap.

    Secrets (the session-signing key, ``key-check``) are stored as ciphertext of the
    region's key file; ``key-check`` lets a server with the wrong key file refuse to
    start instead of rejecting every signature.
    """

    __tablename__ = "system_values"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
