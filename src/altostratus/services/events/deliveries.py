"""The record of webhook deliveries: listing, redelivering, forgetting.

Every delivery is a row (``WebhookDelivery``): made Pending when the event is taken
from the outbox (``services/events/dispatch.py``), then carrying its last attempt's
request headers, payload, response code, the start of the response body, duration and
success. A caller sees the deliveries of the webhooks it may see.

``executeWebhookDelivery`` does not call the receiver inside the request (a slow one
would hold the API): it records a new Pending delivery, due at once, which the
webhook worker sends within a second or so; ``listWebhookDeliveries`` shows its result.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Select, delete, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.clock import database_now
from altostratus.db.models import Account, Domain, Webhook, WebhookDelivery
from altostratus.db.rows import rowcount
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.events.webhooks import find_webhook
from altostratus.services.shared.ownership import visible_to

__all__ = [
    "TEST_EVENT",
    "delete_deliveries",
    "execute_delivery",
    "list_deliveries",
    "new_delivery",
]

#: The event type of a test delivery (``executeWebhookDelivery`` with ``webhookid``).
TEST_EVENT = "WEBHOOK.TEST"


def new_delivery(
    webhook: Webhook,
    *,
    event_uuid: str | None,
    event_type: str,
    account_uuid: str | None,
    payload: str,
    due: datetime,
) -> WebhookDelivery:
    return WebhookDelivery(
        webhook=webhook,
        event_uuid=event_uuid,
        event_type=event_type,
        account_uuid=account_uuid,
        payload=payload,
        due=due,
    )


def _visible_deliveries() -> Select[WebhookDelivery]:
    return (
        select(WebhookDelivery)
        .join(Webhook, WebhookDelivery.webhook_id == Webhook.id)
        .join(Account, Webhook.account_id == Account.id)
        .join(Domain, Webhook.domain_id == Domain.id)
    )


async def _find_delivery(ctx: ServiceContext, uuid: str) -> WebhookDelivery:
    """The delivery ``uuid`` if the caller may see its webhook; else "not found" (431)."""
    found = await ctx.session.scalar(
        _visible_deliveries().where(WebhookDelivery.uuid == uuid, visible_to(ctx.caller))
    )
    if found is None:
        raise InvalidParameter(f"Unable to find webhook delivery with id {uuid} (parameter id)")
    return found


async def _filters(
    ctx: ServiceContext,
    *,
    delivery_uuid: str | None,
    webhook_uuid: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[ColumnElement[bool]]:
    webhook_id = (
        None if webhook_uuid is None else (await find_webhook(ctx, webhook_uuid, "webhookid")).id
    )
    filters = [
        visible_to(ctx.caller),
        equal_if_given(
            (WebhookDelivery.uuid, delivery_uuid), (WebhookDelivery.webhook_id, webhook_id)
        ),
    ]
    if start is not None:
        filters.append(WebhookDelivery.created >= start)
    if end is not None:
        filters.append(WebhookDelivery.created <= end)
    return filters


async def list_deliveries(
    ctx: ServiceContext,
    *,
    delivery_uuid: str | None,
    webhook_uuid: str | None,
    event_type: str | None,
    start: datetime | None,
    end: datetime | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[WebhookDelivery]:
    """Newest first."""
    filters = await _filters(
        ctx, delivery_uuid=delivery_uuid, webhook_uuid=webhook_uuid, start=start, end=end
    )
    query = _visible_deliveries().where(
        *filters,
        equal_if_given((WebhookDelivery.event_type, event_type and event_type.upper())),
        keyword_filter(keyword, WebhookDelivery.event_type, WebhookDelivery.response),
    )
    return await paginate(ctx.session, query.order_by(WebhookDelivery.id.desc()), page)


async def execute_delivery(
    ctx: ServiceContext,
    *,
    delivery_uuid: str | None,
    webhook_uuid: str | None,
    payload: str | None,
) -> WebhookDelivery:
    """A new Pending delivery: of a recorded one again (``id``), or a test of a webhook
    (``webhookid``, with ``payload`` or a small test body)."""
    now = await database_now(ctx.session)
    if delivery_uuid is not None:
        earlier = await _find_delivery(ctx, delivery_uuid)
        delivery = new_delivery(
            earlier.webhook,
            event_uuid=earlier.event_uuid,
            event_type=earlier.event_type,
            account_uuid=earlier.account_uuid,
            payload=payload if payload is not None else earlier.payload,
            due=now,
        )
    elif webhook_uuid is not None:
        webhook = await find_webhook(ctx, webhook_uuid, "webhookid")
        body = {"event": TEST_EVENT, "description": f"Test delivery to webhook {webhook.name}"}
        delivery = new_delivery(
            webhook,
            event_uuid=None,
            event_type=TEST_EVENT,
            account_uuid=webhook.account.uuid,
            payload=payload if payload is not None else orjson.dumps(body).decode(),
            due=now,
        )
    else:
        raise invalid("id", "either id (a delivery) or webhookid (a webhook) is needed")
    ctx.session.add(delivery)
    await ctx.session.flush()
    return delivery


async def delete_deliveries(
    ctx: ServiceContext,
    *,
    delivery_uuid: str | None,
    webhook_uuid: str | None,
    start: datetime | None,
    end: datetime | None,
) -> int:
    """Forget the matching deliveries the caller may see; how many went.

    A delivery named by id must be one the caller may see (431 otherwise, as CloudStack
    refuses it): answering success for another's, deleting nothing, would say it went.
    """
    if delivery_uuid is not None:
        await _find_delivery(ctx, delivery_uuid)
    filters = await _filters(
        ctx, delivery_uuid=delivery_uuid, webhook_uuid=webhook_uuid, start=start, end=end
    )
    chosen = _visible_deliveries().where(*filters).with_only_columns(WebhookDelivery.id)
    result = await ctx.session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(chosen.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
