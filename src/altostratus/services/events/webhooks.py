"""Webhooks (CloudStack 4.20): an account's HTTP endpoint that receives events.

A webhook belongs to an account, like any tenant object: users manage their own, domain
admins those of their domain's accounts, the root admin all (``shared.ownership``). Its
scope says which events it receives, and what the owner may ask for is CloudStack's
rule, judged by the owner's account type: ``Local`` (the owner account's events) for
everyone, ``Domain`` (the events of every account in the owner's domain and below) for
a domain or root admin's account, ``Global`` (every event) for a root admin's only.

The secret key is stored encrypted with the region's key; it signs every delivery
(``services/events/sender.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Account, AccountType, Webhook, WebhookScope, WebhookState
from altostratus.errors import InvalidParameter, invalid
from altostratus.security.keyring import Keyring
from altostratus.services.shared.events import record_event
from altostratus.services.shared.ownership import OwnerScope, manages, owned_rows, owner_account

__all__ = [
    "RESOURCE_TYPE",
    "WebhookChanges",
    "create_webhook",
    "delete_webhook",
    "find_webhook",
    "list_webhooks",
    "secret_of",
    "update_webhook",
]

RESOURCE_TYPE = "Webhook"

#: The broadest scope each owner account type may have.
_WIDEST = {
    AccountType.ADMIN: {WebhookScope.LOCAL, WebhookScope.DOMAIN, WebhookScope.GLOBAL},
    AccountType.DOMAIN_ADMIN: {WebhookScope.LOCAL, WebhookScope.DOMAIN},
}


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("payloadurl", "an http:// or https:// URL with a host is needed", value=url)
    return url


def _check_scope(owner: Account, scope: WebhookScope) -> None:
    if scope not in _WIDEST.get(AccountType(owner.type), {WebhookScope.LOCAL}):
        raise invalid(
            "scope", f"scope {scope} can not be specified for owner {owner.name}", value=scope
        )


def _encrypted(ctx: ServiceContext, secret: str | None) -> str | None:
    return ctx.deps.keyring.encrypt(secret) if secret else None


def secret_of(keyring: Keyring, webhook: Webhook) -> str | None:
    """The webhook's secret key in clear (to sign with, and to show its owner)."""
    return keyring.decrypt(webhook.secret_key) if webhook.secret_key else None


async def _record(ctx: ServiceContext, event_type: str, text: str, webhook: Webhook) -> None:
    await record_event(
        ctx,
        event_type,
        f"{text} webhook {webhook.name} ({webhook.uuid})",
        resource_type=RESOURCE_TYPE,
        resource_uuid=webhook.uuid,
        owner=webhook.account,
    )


async def create_webhook(
    ctx: ServiceContext,
    *,
    name: str,
    description: str | None,
    payload_url: str,
    secret_key: str | None,
    ssl_verification: bool,
    scope: WebhookScope,
    state: WebhookState,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> Webhook:
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    _check_scope(owner, scope)
    webhook = Webhook(
        name=name,
        description=description,
        payload_url=_check_url(payload_url),
        secret_key=_encrypted(ctx, secret_key),
        ssl_verification=ssl_verification,
        scope=scope,
        state=state,
        account=owner,
        domain=owner.domain,
    )
    ctx.session.add(webhook)
    await ctx.session.flush()
    await _record(ctx, "WEBHOOK.CREATE", "Created", webhook)
    return webhook


async def find_webhook(ctx: ServiceContext, uuid: str, parameter: str = "id") -> Webhook:
    """The webhook ``uuid`` if the caller manages its account; else "not found" (431)."""
    webhook = await ctx.session.scalar(select(Webhook).where(Webhook.uuid == uuid))
    if webhook is None or not manages(ctx.caller, webhook.account):
        raise InvalidParameter(f"Unable to find webhook with id {uuid} (parameter {parameter})")
    return webhook


@dataclass(frozen=True)
class WebhookChanges:
    """What ``updateWebhook`` was given; ``None`` leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    payload_url: str | None = None
    secret_key: str | None = None
    ssl_verification: bool | None = None
    scope: WebhookScope | None = None
    state: WebhookState | None = None


async def update_webhook(ctx: ServiceContext, webhook: Webhook, changes: WebhookChanges) -> None:
    """Apply ``changes``; all are checked before any is made. An empty ``secretkey``
    removes the secret (deliveries are then unsigned)."""
    if changes.payload_url is not None:
        _check_url(changes.payload_url)
    if changes.scope is not None:
        _check_scope(webhook.account, changes.scope)
    for field in ("name", "description", "payload_url", "ssl_verification", "scope", "state"):
        value = getattr(changes, field)
        if value is not None:
            setattr(webhook, field, value)
    if changes.secret_key is not None:
        webhook.secret_key = _encrypted(ctx, changes.secret_key)
    await ctx.session.flush()
    await _record(ctx, "WEBHOOK.UPDATE", "Updated", webhook)


async def delete_webhook(ctx: ServiceContext, webhook: Webhook) -> None:
    """Delete the webhook and the record of its deliveries."""
    await _record(ctx, "WEBHOOK.DELETE", "Deleted", webhook)
    await ctx.session.delete(webhook)


async def list_webhooks(
    ctx: ServiceContext,
    *,
    webhook_uuid: str | None,
    name: str | None,
    state: WebhookState | None,
    scope: WebhookScope | None,
    keyword: str | None,
    owners: OwnerScope,
    page: PageRequest,
) -> Page[Webhook]:
    query = (await owned_rows(ctx, Webhook, owners, finding=webhook_uuid is not None)).where(
        equal_if_given(
            (Webhook.uuid, webhook_uuid),
            (Webhook.name, name),
            (Webhook.state, state),
            (Webhook.scope, scope),
        ),
        keyword_filter(keyword, Webhook.name, Webhook.description),
    )
    return await paginate(ctx.session, query.order_by(Webhook.id), page)
