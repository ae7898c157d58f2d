"""``listEvents``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from altostratus.api.declarations import ANYONE, CommandSet
from altostratus.api.ownership import ProjectFilter
from altostratus.api.params import EndTimestamp, ListParams, Timestamp, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject
from altostratus.core.context import ServiceContext
from altostratus.db.models import Event
from altostratus.services.shared import events
from altostratus.timeutil import format_timestamp

__all__ = ["EventResponse", "ListEventsParams", "commands", "event_view", "list_events"]

commands = CommandSet()


class EventResponse(ResponseObject):
    id: str
    type: str
    level: str
    state: str
    description: str
    username: str
    account: str
    domainid: str
    domain: str
    created: str
    resourcetype: str | None = None
    resourceid: str | None = None


def event_view(event: Event) -> EventResponse:
    return EventResponse(
        id=event.uuid,
        type=event.type,
        level=event.level,
        state=event.state,
        description=event.description,
        username=event.username,
        account=event.account_name,
        domainid=event.domain_uuid,
        domain=event.domain_path.rsplit("/", 1)[-1],
        created=format_timestamp(event.created),
        resourcetype=event.resource_type,
        resourceid=event.resource_uuid,
    )


class ListEventsParams(ListParams):
    id: Uuid | None = Field(None, description="The id of the event")
    type: str | None = Field(None, max_length=64, description="Event type, e.g. USER.CREATE")
    level: Literal["INFO", "WARN", "ERROR", "info", "warn", "error"] | None = Field(
        None, description="Event level: INFO, WARN or ERROR"
    )
    startdate: Timestamp | None = Field(None, description="Events at or after this time")
    enddate: EndTimestamp | None = Field(None, description="Events at or before this time")
    resourcetype: str | None = Field(None, max_length=64, description="Type of the resource")
    resourceid: Uuid | None = Field(None, description="Id of the resource")
    projectid: ProjectFilter | None = Field(
        None, description="List the events of this project; -1: of every project"
    )


@commands.command(
    "listEvents",
    ListEventsParams,
    description="Lists events: what changed, when and by whom",
    allowed=ANYONE,
    response=("event", EventResponse),
    writes=False,
)
async def list_events(ctx: ServiceContext, p: ListEventsParams) -> ListResult:
    page = await events.list_events(
        ctx,
        event_uuid=p.id,
        event_type=p.type,
        level=p.level,
        start=p.startdate,
        end=p.enddate,
        resource_type=p.resourcetype,
        resource_uuid=p.resourceid,
        keyword=p.keyword,
        listall=p.listall,
        project_uuid=p.projectid,
        page=page_request(ctx, p),
    )
    return ListResult("event", [event_view(e) for e in page.items], page.total)
