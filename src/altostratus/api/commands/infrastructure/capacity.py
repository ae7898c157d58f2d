"""``listCapacity``: the memory, CPU and addresses of the region's zones, pods and clusters."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, CommandSet
from altostratus.api.params import Integer, ListParams, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject
from altostratus.core.context import ServiceContext
from altostratus.services.infrastructure import capacity
from altostratus.services.infrastructure.capacity import CapacityFigure

__all__ = ["CapacityResponse", "ListCapacityParams", "capacity_view", "commands", "list_capacity"]

commands = CommandSet()


class CapacityResponse(ResponseObject):
    type: int
    name: str
    zoneid: str
    zonename: str
    podid: str | None = None
    podname: str | None = None
    clusterid: str | None = None
    clustername: str | None = None
    capacitytotal: int
    capacityused: int
    percentused: str


def _percent(value: float) -> str:
    """CloudStack's ``###.##``: at most two decimals, no trailing zeros (``12.5``, ``0``)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def capacity_view(figure: CapacityFigure) -> CapacityResponse:
    return CapacityResponse(
        type=figure.type.value,
        name=figure.type.name,
        zoneid=figure.zone.uuid,
        zonename=figure.zone.name,
        podid=figure.pod.uuid if figure.pod else None,
        podname=figure.pod.name if figure.pod else None,
        clusterid=figure.cluster.uuid if figure.cluster else None,
        clustername=figure.cluster.name if figure.cluster else None,
        capacitytotal=figure.total,
        capacityused=figure.used,
        percentused=_percent(figure.percent_used),
    )


class ListCapacityParams(ListParams):
    zoneid: Uuid | None = Field(None, description="Only this zone")
    podid: Uuid | None = Field(None, description="Only this pod; figures per pod")
    clusterid: Uuid | None = Field(None, description="Only this cluster; figures per cluster")
    type: Integer | None = Field(
        None, ge=0, description="Only this capacity type: 0 memory, 1 CPU, 8 shared addresses"
    )
    sortby: str | None = Field(None, pattern="^(?i:usage)$", description="usage: the fullest first")
    fetchlatest: bool = Field(False, description="Accepted; figures are always current")


@commands.command(
    "listCapacity",
    ListCapacityParams,
    description="Lists the memory, CPU and address capacity of zones, pods or clusters",
    allowed=ADMIN,
    response=("capacity", CapacityResponse),
    writes=False,
)
async def list_capacity(ctx: ServiceContext, p: ListCapacityParams) -> ListResult:
    figures = await capacity.list_capacity(
        ctx,
        zone_uuid=p.zoneid,
        pod_uuid=p.podid,
        cluster_uuid=p.clusterid,
        kind=p.type,
        by_usage=p.sortby is not None,
    )
    views = [capacity_view(figure) for figure in page_request(ctx, p).slice(figures)]
    return ListResult("capacity", views, len(figures))
