"""The event log (``listEvents``): one row per state change, written in its transaction."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import PublicEntity

__all__ = ["Event"]


class Event(PublicEntity):
    """An event keeps copies of the names it shows, so it outlives what it describes."""

    __tablename__ = "events"

    type: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16), default="INFO")
    state: Mapped[str] = mapped_column(String(16), default="Completed")
    description: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(255))
    user_uuid: Mapped[str | None] = mapped_column(String(36))
    account_name: Mapped[str] = mapped_column(String(255))
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    domain_uuid: Mapped[str] = mapped_column(String(36))
    #: The owning domain's path, so a domain admin's listing is a prefix match.
    domain_path: Mapped[str] = mapped_column(String(1024), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_uuid: Mapped[str | None] = mapped_column(String(36))
