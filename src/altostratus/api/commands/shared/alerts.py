"""``listAlerts``, ``archiveAlerts``, ``deleteAlerts``, ``generateAlert``.

Root admins only, as in CloudStack. The region raises alerts itself (host HA); an
operator may add one with ``generateAlert``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet
from altostratus.api.params import (
    ApiType,
    EndTimestamp,
    ListParams,
    Params,
    Timestamp,
    Uuid,
    UuidList,
    page_request,
)
from altostratus.api.results import ListResult, ResponseObject, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Alert
from altostratus.errors import invalid
from altostratus.services.shared import alerts
from altostratus.services.shared.alerts import AlertSelection
from altostratus.timeutil import format_timestamp

__all__ = [
    "AlertResponse",
    "AlertSelectionParams",
    "ArchiveAlertsParams",
    "DeleteAlertsParams",
    "GenerateAlertParams",
    "ListAlertsParams",
    "alert_view",
    "archive_alerts",
    "commands",
    "delete_alerts",
    "generate_alert",
    "list_alerts",
]

commands = CommandSet()

#: CloudStack stores an alert's type as a SMALLINT (``listAlerts`` takes it as a string,
#: but only a number can match).
_TypeNumber = Annotated[int, ApiType("short"), Field(ge=-(1 << 15), lt=1 << 15)]


class AlertResponse(ResponseObject):
    id: str
    type: int
    name: str
    description: str
    sent: str


def alert_view(alert: Alert) -> AlertResponse:
    return AlertResponse(
        id=alert.uuid,
        type=alert.type,
        name=alert.name,
        description=alert.subject,
        sent=format_timestamp(alert.created),
    )


class ListAlertsParams(ListParams):
    id: Uuid | None = Field(None, description="The ID of the alert")
    type: _TypeNumber | None = Field(None, description="List by alert type (its number)")
    name: str | None = Field(None, max_length=255, description="List by alert name")


@commands.command(
    "listAlerts",
    ListAlertsParams,
    description="Lists the alerts not archived, newest first",
    allowed=ADMIN,
    response=("alert", AlertResponse),
    writes=False,
    related=("archiveAlerts", "deleteAlerts"),
)
async def list_alerts(ctx: ServiceContext, p: ListAlertsParams) -> ListResult:
    page = await alerts.list_alerts(
        ctx,
        alert_uuid=p.id,
        alert_type=p.type,
        name=p.name,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    return ListResult("alert", [alert_view(a) for a in page.items], page.total)


class AlertSelectionParams(Params):
    """What ``archiveAlerts`` and ``deleteAlerts`` act on, with CloudStack's rules: ids,
    a type or an end date is required, and a start date needs an end date."""

    #: CloudStack's text when nothing selects alerts (it differs between the commands).
    required_text: ClassVar[str] = "either ids, type or enddate must be specified"

    ids: UuidList | None = Field(None, description="The IDs of the alerts")
    type: _TypeNumber | None = Field(None, description="The alert type (its number)")
    startdate: Timestamp | None = Field(
        None, description="Alerts raised at or after this time; needs enddate"
    )
    enddate: EndTimestamp | None = Field(None, description="Alerts raised at or before this time")

    @model_validator(mode="after")
    def _something_selected(self) -> Self:
        if self.ids is None and self.type is None and self.enddate is None:
            raise ValueError(invalid("ids", self.required_text).text)
        if self.startdate is not None and self.enddate is None:
            raise ValueError(
                invalid("enddate", "enddate must be specified with startdate parameter").text
            )
        return self

    def selection(self) -> AlertSelection:
        return AlertSelection(
            uuids=tuple(self.ids) if self.ids is not None else None,
            alert_type=self.type,
            start=self.startdate,
            end=self.enddate,
        )


class ArchiveAlertsParams(AlertSelectionParams):
    required_text: ClassVar[str] = "either ids, type, startdate or enddate must be specified"


class DeleteAlertsParams(AlertSelectionParams):
    pass


@commands.command(
    "archiveAlerts",
    ArchiveAlertsParams,
    description="Archives alerts: they are kept but no longer listed",
    allowed=ADMIN,
    response=SUCCESS,
    related=("listAlerts",),
)
async def archive_alerts(ctx: ServiceContext, p: ArchiveAlertsParams) -> Success:
    await alerts.archive_alerts(ctx, p.selection())
    return Success()


@commands.command(
    "deleteAlerts",
    DeleteAlertsParams,
    description="Deletes alerts not archived",
    allowed=ADMIN,
    response=SUCCESS,
    related=("listAlerts",),
)
async def delete_alerts(ctx: ServiceContext, p: DeleteAlertsParams) -> Success:
    await alerts.delete_alerts(ctx, p.selection())
    return Success()


class GenerateAlertParams(Params):
    type: _TypeNumber = Field(description="Type of the alert (its number)")
    name: str = Field(min_length=1, max_length=255, description="Name of the alert")
    description: str = Field(min_length=1, max_length=999, description="Alert description")
    zoneid: Uuid | None = Field(None, description="Zone the alert is about")
    podid: Uuid | None = Field(None, description="Pod the alert is about")


@commands.command(
    "generateAlert",
    GenerateAlertParams,
    description="Generates an alert",
    allowed=ADMIN,
    response=SUCCESS,
    is_async=True,
    related=("listAlerts",),
)
async def generate_alert(ctx: ServiceContext, p: GenerateAlertParams) -> Success:
    await alerts.generate_alert(
        ctx,
        alert_type=p.type,
        name=p.name,
        description=p.description,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
    )
    return Success()
