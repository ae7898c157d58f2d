"""The RabbitMQ event bus: the region's events, published from the outbox.

One server of the region publishes at a time, under the ``event-bus`` lease (the
runner takes it before each round). A round takes the unsent events in id order, a
batch at a time, publishes them to the topic exchange on a channel with publisher
confirms, and marks sent the events up to the first one without a confirm. Whatever
was not confirmed (the broker went away, a nack, the lease ran out) is published again
in a later round, possibly to a new broker: a consumer may see a message twice, never
miss one, and recognises the copy by its ``message_id``, the event's UUID (also
``eventuuid`` in the body). The messages of one channel reach a queue in the order
they were published, so the events of one resource arrive in the order they happened.

The brokers of ``event_bus_url`` are tried in turn; the one that answered is tried
first next time. While none answers the events wait in the outbox; the backlog and its
age are on ``/metrics`` (``services/events/outbox.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from altostratus.core.context import Dependencies
from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.engine import Database
from altostratus.db.models import Event
from altostratus.services.events.messages import event_payload, routing_key
from altostratus.services.events.outbox import Consumer, mark_sent, pending_events, read_backlog

__all__ = ["LEASE", "EventBusPublisher", "broker_urls"]

log = logging.getLogger(__name__)

LEASE = "event-bus"

#: Seconds to connect to one broker, and to wait for the confirms of one batch.
_BROKER_TIMEOUT = 10.0

#: What a broker going away, refusing us or nacking looks like.
_BROKER_ERRORS = (*CONNECTION_EXCEPTIONS, TimeoutError)


def broker_urls(deps: Dependencies) -> list[str]:
    """The brokers of ``event_bus_url`` (decrypted if ``ENC(...)``), in the order given."""
    urls = deps.keyring.unwrap(deps.settings.event_bus_url)
    return [url.strip() for url in urls.split(",") if url.strip()]


def _message(event: Event) -> aio_pika.Message:
    return aio_pika.Message(
        event_payload(event),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.uuid,
        timestamp=event.created,
        type=event.type,
    )


class EventBusPublisher:
    """A worker (``core.worker``) under the region's ``event-bus`` lease."""

    name = LEASE
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies, urls: list[str]) -> None:
        settings = deps.settings
        self._db = db
        self._urls = urls
        self._exchange_name = settings.event_bus_exchange
        self._batch = settings.event_bus_batch
        self.interval = settings.event_bus_interval
        self.lease = LeaseHolder(db, LEASE, deps.server_id, max(10.0, 5 * self.interval))
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._unreachable = False

    async def tick(self) -> Tick:
        try:
            sent = await self._publish_backlog()
        except _BROKER_ERRORS as error:
            await self.close()
            first = not self._unreachable
            self._unreachable = True
            return Tick(f"no broker took the events: {error!r}; they wait", changed=first)
        finally:
            await self._report_backlog()
        recovered, self._unreachable = self._unreachable, False
        return Tick(f"published {sent} event(s)", changed=bool(sent) or recovered)

    async def close(self) -> None:
        """Let go of the broker connection (at shutdown, or after it failed)."""
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except _BROKER_ERRORS:
                log.debug("event bus: closing a failed connection", exc_info=True)

    async def _publish_backlog(self) -> int:
        """Batches until the outbox is empty or the lease could have run out."""
        total = 0
        while True:
            sent, full = await self._publish_batch()
            total += sent
            if not full or not self.lease.valid:
                return total

    async def _publish_batch(self) -> tuple[int, bool]:
        async with self._db.transaction(write=False) as session:
            events = await pending_events(session, Consumer.EVENT_BUS, self._batch)
        if not events:
            return 0, False
        exchange = await self._connected_exchange()
        results = await asyncio.gather(
            *(
                exchange.publish(
                    _message(event), routing_key(event), mandatory=False, timeout=_BROKER_TIMEOUT
                )
                for event in events
            ),
            return_exceptions=True,
        )
        confirmed = [
            event.id
            for event, _ in zip(
                events,
                itertools.takewhile(lambda result: not isinstance(result, BaseException), results),
                strict=False,
            )
        ]
        async with self._db.transaction() as session:
            await mark_sent(session, Consumer.EVENT_BUS, confirmed)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        return len(confirmed), len(events) == self._batch

    async def _connected_exchange(self) -> AbstractExchange:
        if self._exchange is not None:
            return self._exchange
        errors: list[str] = []
        for index, url in enumerate(self._urls):
            try:
                connection = await aio_pika.connect(url, timeout=_BROKER_TIMEOUT)
            except _BROKER_ERRORS as error:
                errors.append(f"{_safe(url)}: {error!r}")
                continue
            # The broker that answered is tried first next time.
            self._urls = [url, *self._urls[:index], *self._urls[index + 1 :]]
            self._connection = connection
            channel = await connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            return self._exchange
        raise ConnectionError("; ".join(errors))

    async def _report_backlog(self) -> None:
        async with self._db.transaction(write=False) as session:
            backlog = await read_backlog(session, Consumer.EVENT_BUS)
        backlog.report(Consumer.EVENT_BUS)


def _safe(url: str) -> str:
    """The URL without its password, for a log line."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.partition(':')[0]}{at}{host}" if at else url
