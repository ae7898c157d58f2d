"""Webhooks (CloudStack 4.20) and the record of every delivery made to them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from altostratus.db.models.base import PublicEntity
from altostratus.db.models.identity import Account, Domain

__all__ = ["DeliveryState", "Webhook", "WebhookDelivery", "WebhookScope", "WebhookState"]


class WebhookScope(enum.StrEnum):
    """Which events a webhook receives: its account's, its domain's (and below), all."""

    LOCAL = "Local"
    DOMAIN = "Domain"
    GLOBAL = "Global"


class WebhookState(enum.StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class DeliveryState(enum.StrEnum):
    """A delivery is Pending until it succeeded or ran out of attempts (Done)."""

    PENDING = "Pending"
    DONE = "Done"


class Webhook(PublicEntity):
    __tablename__ = "webhooks"

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    payload_url: Mapped[str] = mapped_column(String(2048))
    #: Encrypted with the region's key (``Keyring``); None: deliveries are not signed.
    secret_key: Mapped[str | None] = mapped_column(Text)
    ssl_verification: Mapped[bool] = mapped_column(default=False)

    account: Mapped[Account] = relationship(lazy="joined")
    domain: Mapped[Domain] = relationship(lazy="joined")


class WebhookDelivery(PublicEntity):
    """One event (or test payload) for one webhook: its last attempt's request and answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_due", "state", "due"),)

    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_uuid: Mapped[str | None] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    #: The event's account (CloudStack's ``User-Agent: CS-Hookshot/<account uuid>``).
    account_uuid: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    #: When the next attempt may start (backoff after a failed one).
    due: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[str | None] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(default=False)
    response_code: Mapped[int | None]
    #: The start of the receiver's answer (or why there was none).
    response: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]
    server_id: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]

    webhook: Mapped[Webhook] = relationship(lazy="joined")
