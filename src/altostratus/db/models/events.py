"""The event log (``listEvents``): one row per state change, written in its transaction."""

from __future__ import annotations

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from altostratus.db.models.base import PublicEntity

__all__ = ["Event"]


class Event(PublicEntity):
    """An event keeps copies of the names it shows, so it outlives what it describes."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_bus_sent_id", "bus_sent", "id"),
        Index("ix_events_webhooks_sent_id", "webhooks_sent", "id"),
    )

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
    #: The outbox markers (``services/events/outbox.py``), one per consumer: False until
    #: the event bus has a confirm for it / its webhook deliveries are recorded.
    bus_sent: Mapped[bool] = mapped_column(default=False)
    webhooks_sent: Mapped[bool] = mapped_column(default=False)
