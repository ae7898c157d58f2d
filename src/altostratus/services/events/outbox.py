"""The outbox: events commit with the change they describe, consumers take them later.

Each consumer (the event bus, webhooks) has its own marker column on the event row
(``Event.bus_sent``, ``Event.webhooks_sent``), set in the transaction that records what
the consumer did with it. A per-row marker rather than a cursor ("everything up to id
N is sent"): ids are handed out when a transaction inserts, not when it commits, so a
long transaction can commit event 41 after event 42 was already taken; a cursor at 42
would skip 41 for good, a marker cannot. Unsent rows are found through an index on
(marker, id), so the backlog costs a range scan whatever the table's size, and they are
taken in id order, which is the order of the changes to any one resource (they are
serialised by that resource's row).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Gauge
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.db.models import Event
from altostratus.timeutil import utcnow

__all__ = ["Backlog", "Consumer", "mark_sent", "pending_events", "read_backlog"]

OUTBOX_BACKLOG = Gauge(
    "altostratus_event_outbox_backlog",
    "Events not yet taken by a consumer (event bus, webhooks), as its last round saw it",
    ["consumer"],
)
OUTBOX_LAG = Gauge(
    "altostratus_event_outbox_lag_seconds",
    "Age of the oldest event a consumer has not taken yet (0: it is up to date)",
    ["consumer"],
)


class Consumer(enum.StrEnum):
    EVENT_BUS = "event-bus"
    WEBHOOKS = "webhooks"

    @property
    def sent(self) -> ColumnElement[bool]:
        """The consumer's marker column."""
        column = Event.bus_sent if self is Consumer.EVENT_BUS else Event.webhooks_sent
        return column.expression


async def pending_events(session: AsyncSession, consumer: Consumer, limit: int) -> list[Event]:
    """The oldest ``limit`` events ``consumer`` has not taken, in id order."""
    query = select(Event).where(consumer.sent.is_(False)).order_by(Event.id).limit(limit)
    return list(await session.scalars(query))


async def mark_sent(session: AsyncSession, consumer: Consumer, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(update(Event).where(Event.id.in_(ids)).values({consumer.sent: True}))


@dataclass(frozen=True)
class Backlog:
    count: int
    lag_seconds: float

    def report(self, consumer: Consumer) -> None:
        """Show it on ``/metrics``."""
        OUTBOX_BACKLOG.labels(consumer=consumer.value).set(self.count)
        OUTBOX_LAG.labels(consumer=consumer.value).set(self.lag_seconds)


async def read_backlog(session: AsyncSession, consumer: Consumer) -> Backlog:
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(Event.created)).where(consumer.sent.is_(False))
        )
    ).one()
    if oldest is None:
        return Backlog(0, 0.0)
    return Backlog(count, max(0.0, (utcnow() - oldest).total_seconds()))
