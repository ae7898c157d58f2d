"""Alerts: what the region tells its operators (a host it cannot prove dead, a failed
fence, an HA restart without capacity), read with CloudStack's alert commands.

Background work raises them with ``raise_alert`` in its own transaction, and each one is
logged too, since operators tail the logs. Only root admins read, archive or delete
alerts (the API declares it), so these functions check input and rules, not permissions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Alert, Pod, Zone
from altostratus.db.rows import rowcount
from altostratus.errors import invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid

__all__ = [
    "AlertSelection",
    "AlertType",
    "archive_alerts",
    "delete_alerts",
    "generate_alert",
    "list_alerts",
    "raise_alert",
]

log = logging.getLogger(__name__)


class AlertType(IntEnum):
    """CloudStack's ``AlertService.AlertType`` numbers (its ``ALERT_TYPE_*`` constants).

    CloudStack reuses 10 for IPv6 subnets and 32 for several VM and router alerts; those
    clash with the numbers here and are left out. A VM that HA could not restart (no
    capacity, or it could not be fenced) is a ``USERVM`` alert, as in CloudStack.
    """

    MEMORY = 0
    CPU = 1
    STORAGE = 2
    STORAGE_ALLOCATED = 3
    PUBLIC_IP = 4
    PRIVATE_IP = 5
    SECONDARY_STORAGE = 6
    HOST = 7
    USERVM = 8
    DOMAIN_ROUTER = 9
    CONSOLE_PROXY = 10
    ROUTING = 11
    STORAGE_MISC = 12
    USAGE_SERVER = 13
    MANAGEMENT_NODE = 14
    DOMAIN_ROUTER_MIGRATE = 15
    CONSOLE_PROXY_MIGRATE = 16
    USERVM_MIGRATE = 17
    VLAN = 18
    SSVM = 19
    USAGE_SERVER_RESULT = 20
    STORAGE_DELETE = 21
    UPDATE_RESOURCE_COUNT = 22
    USAGE_SANITY_RESULT = 23
    DIRECT_ATTACHED_PUBLIC_IP = 24
    LOCAL_STORAGE = 25
    RESOURCE_LIMIT_EXCEEDED = 26
    SYNC = 27
    UPLOAD_FAILED = 28
    OOBM_AUTH_ERROR = 29
    HA_ACTION = 30
    CA_CERT = 31

    @property
    def alert_name(self) -> str:
        """The name CloudStack gives alerts of this type (``listAlerts``' ``name``)."""
        return _ALERT_NAMES[self]


_ALERT_NAMES = {
    AlertType.MEMORY: "ALERT.MEMORY",
    AlertType.CPU: "ALERT.CPU",
    AlertType.STORAGE: "ALERT.STORAGE",
    AlertType.STORAGE_ALLOCATED: "ALERT.STORAGE.ALLOCATED",
    AlertType.PUBLIC_IP: "ALERT.NETWORK.PUBLICIP",
    AlertType.PRIVATE_IP: "ALERT.NETWORK.PRIVATEIP",
    AlertType.SECONDARY_STORAGE: "ALERT.STORAGE.SECONDARY",
    AlertType.HOST: "ALERT.COMPUTE.HOST",
    AlertType.USERVM: "ALERT.USERVM",
    AlertType.DOMAIN_ROUTER: "ALERT.SERVICE.DOMAINROUTER",
    AlertType.CONSOLE_PROXY: "ALERT.SERVICE.CONSOLEPROXY",
    AlertType.ROUTING: "ALERT.NETWORK.ROUTING",
    AlertType.STORAGE_MISC: "ALERT.STORAGE.MISC",
    AlertType.USAGE_SERVER: "ALERT.USAGE",
    AlertType.MANAGEMENT_NODE: "ALERT.MANAGEMENT",
    AlertType.DOMAIN_ROUTER_MIGRATE: "ALERT.NETWORK.DOMAINROUTERMIGRATE",
    AlertType.CONSOLE_PROXY_MIGRATE: "ALERT.SERVICE.CONSOLEPROXYMIGRATE",
    AlertType.USERVM_MIGRATE: "ALERT.USERVM.MIGRATE",
    AlertType.VLAN: "ALERT.NETWORK.VLAN",
    AlertType.SSVM: "ALERT.SERVICE.SSVM",
    AlertType.USAGE_SERVER_RESULT: "ALERT.USAGE.RESULT",
    AlertType.STORAGE_DELETE: "ALERT.STORAGE.DELETE",
    AlertType.UPDATE_RESOURCE_COUNT: "ALERT.RESOURCE.COUNT",
    AlertType.USAGE_SANITY_RESULT: "ALERT.USAGE.SANITY",
    AlertType.DIRECT_ATTACHED_PUBLIC_IP: "ALERT.NETWORK.DIRECTPUBLICIP",
    AlertType.LOCAL_STORAGE: "ALERT.STORAGE.LOCAL",
    AlertType.RESOURCE_LIMIT_EXCEEDED: "ALERT.RESOURCE.EXCEED",
    AlertType.SYNC: "ALERT.TYPE.SYNC",
    AlertType.UPLOAD_FAILED: "ALERT.UPLOAD.FAILED",
    AlertType.OOBM_AUTH_ERROR: "ALERT.OOBM.AUTHERROR",
    AlertType.HA_ACTION: "ALERT.HA.ACTION",
    AlertType.CA_CERT: "ALERT.CA.CERT",
}


async def raise_alert(
    session: AsyncSession,
    alert_type: AlertType,
    subject: str,
    *,
    zone_id: int | None = None,
    pod_id: int | None = None,
    cluster_id: int | None = None,
    host_id: int | None = None,
) -> Alert:
    """Record an alert in ``session``'s transaction and log it (a warning).

    The ids are the database's keys of what the alert is about, where known. The alert
    is flushed, so its uuid is set when this returns.
    """
    return await _record(
        session,
        Alert(
            type=int(alert_type),
            name=alert_type.alert_name,
            subject=subject,
            zone_id=zone_id,
            pod_id=pod_id,
            cluster_id=cluster_id,
            host_id=host_id,
        ),
    )


async def _record(session: AsyncSession, alert: Alert) -> Alert:
    session.add(alert)
    await session.flush()
    where = ", ".join(
        f"{place} {key}"
        for place, key in (
            ("zone", alert.zone_id),
            ("pod", alert.pod_id),
            ("cluster", alert.cluster_id),
            ("host", alert.host_id),
        )
        if key is not None
    )
    log.warning(
        "alert %s %s (type %d%s): %s",
        alert.name,
        alert.uuid,
        alert.type,
        f", {where}" if where else "",
        alert.subject,
    )
    return alert


async def generate_alert(
    ctx: ServiceContext,
    *,
    alert_type: int,
    name: str,
    description: str,
    zone_uuid: str | None,
    pod_uuid: str | None,
) -> Alert:
    """``generateAlert``: an operator's own alert, of a CloudStack type or a new one.

    A type CloudStack defines keeps its name (given in any case); any other number may
    carry any name. A pod alone places the alert in the pod's zone.
    """
    known = _default_type(alert_type)
    if known is not None and known.alert_name.lower() != name.lower():
        raise invalid(
            "name",
            f"There is a default alert having type {alert_type} and name {known.alert_name}",
            value=name,
        )
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid") if zone_uuid else None
    pod = await find_by_uuid(ctx, Pod, pod_uuid, "podid") if pod_uuid else None
    if pod is not None and zone is not None and pod.zone_id != zone.id:
        raise invalid("podid", f"the pod is not in zone {zone.uuid}", value=pod_uuid)
    alert = await _record(
        ctx.session,
        Alert(
            type=alert_type,
            name=known.alert_name if known is not None else name,
            subject=description,
            zone_id=pod.zone_id if pod is not None else zone.id if zone is not None else None,
            pod_id=pod.id if pod is not None else None,
        ),
    )
    await record_event(
        ctx,
        "ALERT.GENERATE",
        f"Generating alert of type {alert_type}; name {alert.name}",
    )
    return alert


def _default_type(number: int) -> AlertType | None:
    try:
        return AlertType(number)
    except ValueError:
        return None


async def list_alerts(
    ctx: ServiceContext,
    *,
    alert_uuid: str | None,
    alert_type: int | None,
    name: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Alert]:
    """Alerts not archived, newest first; ``keyword`` searches the subject."""
    query = select(Alert).where(
        Alert.archived.is_(False),
        equal_if_given((Alert.uuid, alert_uuid), (Alert.type, alert_type), (Alert.name, name)),
        keyword_filter(keyword, Alert.subject),
    )
    return await paginate(ctx.session, query.order_by(Alert.created.desc(), Alert.id.desc()), page)


@dataclass(frozen=True)
class AlertSelection:
    """Which alerts ``archiveAlerts`` or ``deleteAlerts`` act on: all the given criteria.

    ``start`` and ``end`` bound when the alerts were raised, both included. Only alerts
    not yet archived are selected, as in CloudStack: archived ones are neither archived
    again nor deleted.
    """

    uuids: tuple[str, ...] | None = None
    alert_type: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def criteria(self) -> ColumnElement[bool]:
        criteria: list[ColumnElement[bool]] = [Alert.archived.is_(False)]
        if self.uuids is not None:
            criteria.append(Alert.uuid.in_(self.uuids))
        if self.alert_type is not None:
            criteria.append(Alert.type == self.alert_type)
        if self.start is not None:
            criteria.append(Alert.created >= self.start)
        if self.end is not None:
            criteria.append(Alert.created <= self.end)
        return and_(*criteria)


async def archive_alerts(ctx: ServiceContext, selection: AlertSelection) -> int:
    """Archive the selected alerts; how many. Every id given must be selected, else 431."""
    await _check_ids(ctx, selection)
    archive = update(Alert).where(selection.criteria()).values(archived=True)
    return rowcount(await ctx.session.execute(archive))


async def delete_alerts(ctx: ServiceContext, selection: AlertSelection) -> int:
    """Delete the selected alerts; how many. Every id given must be selected, else 431."""
    await _check_ids(ctx, selection)
    return rowcount(await ctx.session.execute(delete(Alert).where(selection.criteria())))


async def _check_ids(ctx: ServiceContext, selection: AlertSelection) -> None:
    """CloudStack refuses the whole request when one of the ids is not selected: unknown,
    already archived, or outside the type or dates also given."""
    if selection.uuids is None:
        return
    selected = select(Alert.uuid).where(selection.criteria())
    found = set((await ctx.session.scalars(selected)).all())
    missing = [uuid for uuid in selection.uuids if uuid not in found]
    if missing:
        raise invalid(
            "ids",
            "no such alert, or it is archived or outside the other criteria",
            value=",".join(missing),
        )
