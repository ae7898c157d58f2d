"""The webhook worker: events from the outbox become deliveries, due deliveries are sent.

One server of the region does it, under the ``webhooks`` lease. A round first takes
the events webhooks have not seen (``Event.webhooks_sent``, the outbox of
``services/events/outbox.py``, as the event bus does) and, in the same transaction,
records a Pending delivery for every enabled webhook whose scope covers the event's
owner. Then it sends up to ``webhook_concurrency`` due deliveries at once, outside any
transaction (a receiver that never answers holds no database lock, and the API never
waits for it), each bounded by ``webhook_timeout``, and records every attempt. A failed
attempt is tried again after ``webhook_retry_delay``, doubled each time, until
``webhook_tries`` attempts were made; then the delivery is Done, unsuccessful.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from altostratus.core.context import Dependencies
from altostratus.core.leases import LeaseHolder
from altostratus.core.worker import Tick
from altostratus.db.clock import database_now
from altostratus.db.engine import Database
from altostratus.db.models import (
    DeliveryState,
    Event,
    Webhook,
    WebhookDelivery,
    WebhookScope,
    WebhookState,
)
from altostratus.services.events.deliveries import new_delivery
from altostratus.services.events.messages import event_payload
from altostratus.services.events.outbox import Consumer, mark_sent, pending_events, read_backlog
from altostratus.services.events.sender import Attempt, Outgoing, send
from altostratus.services.events.webhooks import secret_of

__all__ = ["LEASE", "WebhookWorker", "receives"]

LEASE = "webhooks"

#: Events turned into deliveries per transaction.
_BATCH = 200


def receives(webhook: Webhook, event: Event) -> bool:
    """Whether ``webhook``'s scope covers ``event``'s owner."""
    if webhook.scope == WebhookScope.GLOBAL:
        return True
    if webhook.scope == WebhookScope.DOMAIN:
        path = webhook.domain.path
        return event.domain_path == path or event.domain_path.startswith(f"{path}/")
    return event.account_uuid == webhook.account.uuid


class WebhookWorker:
    """A worker (``core.worker``) under the region's ``webhooks`` lease."""

    name = LEASE
    wake_up = None
    run_at_start = True

    def __init__(self, db: Database, deps: Dependencies) -> None:
        settings = deps.settings
        self._db = db
        self._deps = deps
        self.interval = settings.webhook_interval
        self._timeout = settings.webhook_timeout
        self._concurrency = settings.webhook_concurrency
        self._tries = settings.webhook_tries
        self._retry_delay = settings.webhook_retry_delay
        # A round lasts up to one attempt's timeout: the lease outlives it.
        lease_seconds = max(10.0, 5 * self.interval, 3 * self._timeout)
        self.lease = LeaseHolder(db, LEASE, deps.server_id, lease_seconds)
        timeout = httpx.Timeout(self._timeout)
        self._clients = {
            verify: httpx.AsyncClient(timeout=timeout, verify=verify, follow_redirects=False)
            for verify in (True, False)
        }

    async def tick(self) -> Tick:
        taken = await self._dispatch()
        attempts = await self._send_due()
        succeeded = sum(attempt.success for attempt in attempts)
        return Tick(
            f"{taken} event(s) taken, {len(attempts)} delivery attempt(s), {succeeded} succeeded",
            changed=bool(taken or attempts),
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def _dispatch(self) -> int:
        total = 0
        while True:
            async with self._db.transaction() as session:
                events = await pending_events(session, Consumer.WEBHOOKS, _BATCH)
                if events:
                    hooks = list(
                        await session.scalars(
                            select(Webhook).where(Webhook.state == WebhookState.ENABLED)
                        )
                    )
                    now = await database_now(session)
                    session.add_all(
                        new_delivery(
                            hook,
                            event_uuid=event.uuid,
                            event_type=event.type,
                            account_uuid=event.account_uuid,
                            payload=event_payload(event).decode(),
                            due=now,
                        )
                        for event in events
                        for hook in hooks
                        if receives(hook, event)
                    )
                    await mark_sent(session, Consumer.WEBHOOKS, [event.id for event in events])
                backlog = await read_backlog(session, Consumer.WEBHOOKS)
            backlog.report(Consumer.WEBHOOKS)
            total += len(events)
            if len(events) < _BATCH or not self.lease.valid:
                return total

    async def _send_due(self) -> list[Attempt]:
        """Rounds of up to ``webhook_concurrency`` attempts at once, while deliveries are
        due and the lease holds."""
        made: list[Attempt] = []
        while True:
            attempts = await self._send_some()
            made.extend(attempts)
            if len(attempts) < self._concurrency or not self.lease.valid:
                return made

    async def _send_some(self) -> list[Attempt]:
        async with self._db.transaction(write=False) as session:
            now = await database_now(session)
            due = await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.due <= now)
                .order_by(WebhookDelivery.id)
                .limit(self._concurrency)
            )
            outgoing = [self._outgoing(delivery) for delivery in due]
        if not outgoing:
            return []
        attempts = await asyncio.gather(
            *(send(self._clients[item.verify_tls], item, self._timeout) for item in outgoing)
        )
        async with self._db.transaction() as session:
            now = await database_now(session)
            for attempt in attempts:
                delivery = await session.get(WebhookDelivery, attempt.delivery_id)
                if delivery is not None:  # else its webhook was deleted meanwhile
                    self._record(delivery, attempt, now)
        return attempts

    def _outgoing(self, delivery: WebhookDelivery) -> Outgoing:
        webhook = delivery.webhook
        return Outgoing(
            delivery_id=delivery.id,
            url=webhook.payload_url,
            payload=delivery.payload,
            event_uuid=delivery.event_uuid,
            event_type=delivery.event_type,
            account_uuid=delivery.account_uuid,
            secret=secret_of(self._deps.keyring, webhook),
            verify_tls=webhook.ssl_verification,
        )

    def _record(self, delivery: WebhookDelivery, attempt: Attempt, now: datetime) -> None:
        delivery.attempts += 1
        delivery.headers = attempt.headers
        delivery.success = attempt.success
        delivery.response_code = attempt.response_code
        delivery.response = attempt.response
        delivery.duration_ms = attempt.duration_ms
        delivery.start_time = attempt.start
        delivery.end_time = attempt.end
        delivery.server_id = self._deps.server_id
        if attempt.success or delivery.attempts >= self._tries:
            delivery.state = DeliveryState.DONE
        else:
            backoff = self._retry_delay * 2 ** (delivery.attempts - 1)
            delivery.due = now + timedelta(seconds=backoff)
