"""The event log: every state change records one event in its own transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Account, Event
from altostratus.services.shared.projects import project_accounts
from altostratus.services.shared.visibility import owned_rows_filter

__all__ = ["list_events", "record_event"]


async def record_event(
    ctx: ServiceContext,
    event_type: str,
    description: str,
    *,
    resource_type: str | None = None,
    resource_uuid: str | None = None,
    owner: Account | None = None,
    level: str = "INFO",
) -> Event:
    """Add an event owned by ``owner`` (default: the caller's account), caused by the caller.

    The caller's own account needs no query: ``Caller`` carries its name, id and domain.

    ``event_type`` follows CloudStack's names (``USER.CREATE``, ``ZONE.DELETE``).
    """
    caller = ctx.caller
    event = Event(
        type=event_type,
        level=level,
        description=description,
        username=caller.username,
        user_uuid=caller.user_uuid,
        account_name=owner.name if owner else caller.account_name,
        account_uuid=owner.uuid if owner else caller.account_uuid,
        domain_uuid=owner.domain.uuid if owner else caller.domain_uuid,
        domain_path=owner.domain.path if owner else caller.domain_path,
        resource_type=resource_type,
        resource_uuid=resource_uuid,
        # Without a broker the event bus never takes it (``services/events/outbox.py``).
        bus_sent=not ctx.deps.settings.event_bus_url,
    )
    ctx.session.add(event)
    return event


async def list_events(
    ctx: ServiceContext,
    *,
    event_uuid: str | None,
    event_type: str | None,
    level: str | None,
    start: datetime | None,
    end: datetime | None,
    resource_type: str | None,
    resource_uuid: str | None,
    keyword: str | None,
    listall: bool,
    project_uuid: str | None = None,
    page: PageRequest,
) -> Page[Event]:
    """Events the caller may see (``visibility.owned_rows_filter``), newest first; with
    ``project_uuid`` those of the project's account (``shared.projects``)."""
    visible = owned_rows_filter(
        ctx.caller,
        account_uuid_column=Event.account_uuid,
        domain_path_column=Event.domain_path,
        listall=listall or event_uuid is not None,
    )
    if project_uuid is not None:
        owners = await project_accounts(ctx, project_uuid, account=None)
        visible = Event.account_uuid.in_(select(Account.uuid).where(Account.id.in_(owners)))
    query = select(Event).where(
        visible,
        equal_if_given(
            (Event.uuid, event_uuid),
            (Event.type, event_type and event_type.upper()),
            (Event.level, level and level.upper()),
            (Event.resource_type, resource_type),
            (Event.resource_uuid, resource_uuid),
        ),
        keyword_filter(keyword, Event.description, Event.type),
    )
    if start is not None:
        query = query.where(Event.created >= start)
    if end is not None:
        query = query.where(Event.created <= end)
    return await paginate(ctx.session, query.order_by(Event.id.desc()), page)
