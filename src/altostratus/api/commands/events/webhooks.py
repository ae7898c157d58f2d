"""Webhooks (CloudStack 4.20): ``createWebhook``, ``listWebhooks``, ``updateWebhook``,
``deleteWebhook``, ``listWebhookDeliveries``, ``executeWebhookDelivery``,
``deleteWebhookDelivery`` (synchronous, as in CloudStack; docs/events.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnerFilterParams, OwnerParams
from altostratus.api.params import EndTimestamp, ListParams, Params, Timestamp, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Webhook, WebhookDelivery, WebhookScope, WebhookState
from altostratus.security.keyring import Keyring
from altostratus.services.events import deliveries, webhooks
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateWebhookParams",
    "DeliveryFilterParams",
    "ExecuteDeliveryParams",
    "ListDeliveriesParams",
    "ListWebhooksParams",
    "UpdateWebhookParams",
    "WebhookDeliveryResponse",
    "WebhookIdParams",
    "WebhookResponse",
    "commands",
    "create_webhook",
    "delete_webhook",
    "delete_webhook_delivery",
    "delivery_view",
    "execute_webhook_delivery",
    "list_webhook_deliveries",
    "list_webhooks",
    "update_webhook",
    "webhook_view",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]
Secret = Annotated[str, Field(max_length=255)]
Text = Annotated[str, Field(max_length=4096)]


class WebhookResponse(ResponseObject):
    id: str
    name: str
    description: str | None = None
    state: str
    scope: str
    payloadurl: str
    secretkey: str | None = None
    sslverification: bool
    account: str
    domainid: str
    domain: str
    created: str


def webhook_view(keyring: Keyring, webhook: Webhook) -> WebhookResponse:
    return WebhookResponse(
        id=webhook.uuid,
        name=webhook.name,
        description=webhook.description,
        state=webhook.state,
        scope=webhook.scope,
        payloadurl=webhook.payload_url,
        secretkey=webhooks.secret_of(keyring, webhook),
        sslverification=webhook.ssl_verification,
        account=webhook.account.name,
        domainid=webhook.domain.uuid,
        domain=webhook.domain.name,
        created=format_timestamp(webhook.created),
    )


class WebhookDeliveryResponse(ResponseObject):
    id: str
    eventid: str | None = None
    eventtype: str
    webhookid: str
    webhookname: str
    state: str = Field(description="Pending (an attempt is due) or Done")
    success: bool
    attempts: int = Field(description="Attempts made so far")
    headers: str | None = None
    payload: str
    responsecode: int | None = Field(None, description="HTTP status of the last answer")
    response: str | None = Field(None, description="Start of the last answer, or its failure")
    duration: int | None = Field(None, description="Milliseconds the last attempt took")
    managementserverid: str | None = None
    startdate: str | None = None
    enddate: str | None = None
    created: str


def delivery_view(delivery: WebhookDelivery) -> WebhookDeliveryResponse:
    return WebhookDeliveryResponse(
        id=delivery.uuid,
        eventid=delivery.event_uuid,
        eventtype=delivery.event_type,
        webhookid=delivery.webhook.uuid,
        webhookname=delivery.webhook.name,
        state=delivery.state,
        success=delivery.success,
        attempts=delivery.attempts,
        headers=delivery.headers,
        payload=delivery.payload,
        responsecode=delivery.response_code,
        response=delivery.response,
        duration=delivery.duration_ms,
        managementserverid=delivery.server_id,
        startdate=format_timestamp(delivery.start_time) if delivery.start_time else None,
        enddate=format_timestamp(delivery.end_time) if delivery.end_time else None,
        created=format_timestamp(delivery.created),
    )


def _webhook(ctx: ServiceContext, webhook: Webhook) -> Single:
    return Single("webhook", webhook_view(ctx.deps.keyring, webhook))


class CreateWebhookParams(OwnerParams):
    name: Name = Field(description="Name of the webhook")
    description: Text | None = Field(None, description="Description of the webhook")
    payloadurl: Url = Field(description="URL events are POSTed to (http or https)")
    secretkey: Secret | None = Field(
        None, description="Key of the HMAC-SHA256 signature of each payload (X-CS-Signature)"
    )
    sslverification: bool = Field(False, description="Verify the receiver's TLS certificate")
    scope: WebhookScope = Field(
        WebhookScope.LOCAL,
        description="Local (the account's events), Domain (its domain's; domain and root "
        "admins) or Global (all; root admin)",
    )
    state: WebhookState = Field(WebhookState.ENABLED, description="Enabled or Disabled")


@commands.command(
    "createWebhook",
    CreateWebhookParams,
    description="Creates a webhook: events of its scope are POSTed to its payload URL",
    allowed=ANYONE,
    response=("webhook", WebhookResponse),
    related=("listWebhooks",),
)
async def create_webhook(ctx: ServiceContext, p: CreateWebhookParams) -> Single:
    webhook = await webhooks.create_webhook(
        ctx,
        name=p.name,
        description=p.description,
        payload_url=p.payloadurl,
        secret_key=p.secretkey,
        ssl_verification=p.sslverification,
        scope=p.scope,
        state=p.state,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return _webhook(ctx, webhook)


class WebhookIdParams(Params):
    id: Uuid = Field(description="The webhook")


class UpdateWebhookParams(WebhookIdParams):
    name: Name | None = Field(None, description="Its new name")
    description: Text | None = Field(None, description="Its new description")
    payloadurl: Url | None = Field(None, description="Its new payload URL")
    secretkey: Secret | None = Field(None, description="Its new secret key; empty: none")
    sslverification: bool | None = Field(None, description="Verify the receiver's certificate")
    scope: WebhookScope | None = Field(None, description="Its new scope")
    state: WebhookState | None = Field(None, description="Enabled or Disabled")


@commands.command(
    "updateWebhook",
    UpdateWebhookParams,
    description="Updates a webhook",
    allowed=ANYONE,
    response=("webhook", WebhookResponse),
)
async def update_webhook(ctx: ServiceContext, p: UpdateWebhookParams) -> Single:
    webhook = await webhooks.find_webhook(ctx, p.id)
    changes = webhooks.WebhookChanges(
        name=p.name,
        description=p.description,
        payload_url=p.payloadurl,
        secret_key=p.secretkey,
        ssl_verification=p.sslverification,
        scope=p.scope,
        state=p.state,
    )
    await webhooks.update_webhook(ctx, webhook, changes)
    return _webhook(ctx, webhook)


@commands.command(
    "deleteWebhook",
    WebhookIdParams,
    description="Deletes a webhook and the record of its deliveries",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_webhook(ctx: ServiceContext, p: WebhookIdParams) -> Success:
    await webhooks.delete_webhook(ctx, await webhooks.find_webhook(ctx, p.id))
    return Success()


class ListWebhooksParams(OwnerFilterParams):
    id: Uuid | None = Field(None, description="List the webhook of this id")
    name: str | None = Field(None, max_length=255, description="List webhooks of this name")
    state: WebhookState | None = Field(None, description="List webhooks in this state")
    scope: WebhookScope | None = Field(None, description="List webhooks of this scope")


@commands.command(
    "listWebhooks",
    ListWebhooksParams,
    description="Lists webhooks",
    allowed=ANYONE,
    response=("webhook", WebhookResponse),
    writes=False,
)
async def list_webhooks(ctx: ServiceContext, p: ListWebhooksParams) -> ListResult:
    page = await webhooks.list_webhooks(
        ctx,
        webhook_uuid=p.id,
        name=p.name,
        state=p.state,
        scope=p.scope,
        keyword=p.keyword,
        owners=p.owner_scope(),
        page=page_request(ctx, p),
    )
    views = [webhook_view(ctx.deps.keyring, w) for w in page.items]
    return ListResult("webhook", views, page.total)


class DeliveryFilterParams(Params):
    id: Uuid | None = Field(None, description="The webhook delivery")
    webhookid: Uuid | None = Field(None, description="The deliveries of this webhook")
    startdate: Timestamp | None = Field(None, description="Deliveries made at or after this time")
    enddate: EndTimestamp | None = Field(None, description="Deliveries made at or before this time")


class ListDeliveriesParams(ListParams, DeliveryFilterParams):
    eventtype: str | None = Field(None, max_length=64, description="Deliveries of this event type")


@commands.command(
    "listWebhookDeliveries",
    ListDeliveriesParams,
    description="Lists webhook deliveries, newest first: request, answer, duration, success",
    allowed=ANYONE,
    response=("webhookdelivery", WebhookDeliveryResponse),
    writes=False,
)
async def list_webhook_deliveries(ctx: ServiceContext, p: ListDeliveriesParams) -> ListResult:
    page = await deliveries.list_deliveries(
        ctx,
        delivery_uuid=p.id,
        webhook_uuid=p.webhookid,
        event_type=p.eventtype,
        start=p.startdate,
        end=p.enddate,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("webhookdelivery", [delivery_view(d) for d in page.items], page.total)


class ExecuteDeliveryParams(Params):
    id: Uuid | None = Field(None, description="Deliver this recorded delivery again")
    webhookid: Uuid | None = Field(None, description="Send a test delivery to this webhook")
    payload: Annotated[str, Field(max_length=65536)] | None = Field(
        None, description="The payload to send instead (default: the delivery's, or a test one)"
    )


@commands.command(
    "executeWebhookDelivery",
    ExecuteDeliveryParams,
    description="Redelivers a webhook delivery or tests a webhook: records a new delivery, "
    "sent within moments by the webhook worker (listWebhookDeliveries shows its result)",
    allowed=ANYONE,
    response=("webhookdelivery", WebhookDeliveryResponse),
)
async def execute_webhook_delivery(ctx: ServiceContext, p: ExecuteDeliveryParams) -> Single:
    delivery = await deliveries.execute_delivery(
        ctx, delivery_uuid=p.id, webhook_uuid=p.webhookid, payload=p.payload
    )
    return Single("webhookdelivery", delivery_view(delivery))


@commands.command(
    "deleteWebhookDelivery",
    DeliveryFilterParams,
    description="Deletes the record of webhook deliveries (by id, webhook or time)",
    allowed=ANYONE,
    response=SUCCESS,
)
async def delete_webhook_delivery(ctx: ServiceContext, p: DeliveryFilterParams) -> Success:
    await deliveries.delete_deliveries(
        ctx, delivery_uuid=p.id, webhook_uuid=p.webhookid, start=p.startdate, end=p.enddate
    )
    return Success()
