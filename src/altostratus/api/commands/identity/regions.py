"""Region registry commands."""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import HttpEndpoint, Integer, ListParams, Params, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Region
from altostratus.federation.status import PeerStatus, read_pull_status
from altostratus.services.identity import regions

__all__ = [
    "AddRegionParams",
    "ListRegionsParams",
    "RegionResponse",
    "RemoveRegionParams",
    "UpdateRegionParams",
    "add_region",
    "commands",
    "list_regions",
    "region_view",
    "remove_region",
    "update_region",
]

commands = CommandSet()


class RegionResponse(ResponseObject):
    id: int
    name: str
    endpoint: str
    gslbserviceenabled: bool
    portableipserviceenabled: bool
    #: Set for a peer this region pulls from: did the last pull reach it.
    reachable: bool | None = None
    #: Seconds since this region last pulled from the peer successfully.
    replicationlag: float | None = None


def region_view(region: Region, status: PeerStatus | None = None) -> RegionResponse:
    return RegionResponse(
        id=region.id,
        name=region.name,
        endpoint=region.endpoint,
        gslbserviceenabled=region.gslb_service_enabled,
        portableipserviceenabled=region.portable_ip_service_enabled,
        reachable=status.reachable if status else None,
        replicationlag=status.lag_seconds if status else None,
    )


class AddRegionParams(Params):
    id: Integer = Field(ge=1, description="Id of the region; the same in every region")
    name: str = Field(min_length=1, max_length=255, description="Name of the region")
    endpoint: HttpEndpoint = Field(description="API endpoint URL of the region")


@commands.command(
    "addRegion",
    AddRegionParams,
    description="Adds a region to the registry",
    allowed=ADMIN,
    response=("region", RegionResponse),
    related=("listRegions",),
)
async def add_region(ctx: ServiceContext, p: AddRegionParams) -> Single:
    region = await regions.add_region(ctx, region_id=p.id, name=p.name, endpoint=p.endpoint)
    return Single("region", region_view(region))


class UpdateRegionParams(Params):
    id: Integer = Field(ge=1, description="Id of the region to update")
    name: str | None = Field(None, min_length=1, max_length=255, description="New name")
    endpoint: HttpEndpoint | None = Field(None, description="New API endpoint URL")


@commands.command(
    "updateRegion",
    UpdateRegionParams,
    description="Updates a region's name or endpoint",
    allowed=ADMIN,
    response=("region", RegionResponse),
    related=("listRegions",),
)
async def update_region(ctx: ServiceContext, p: UpdateRegionParams) -> Single:
    region = await regions.update_region(ctx, region_id=p.id, name=p.name, endpoint=p.endpoint)
    return Single("region", region_view(region))


class RemoveRegionParams(Params):
    id: Integer = Field(ge=1, description="Id of the region to remove")


@commands.command(
    "removeRegion",
    RemoveRegionParams,
    description="Removes a region from the registry (not the local region)",
    allowed=ADMIN,
    response=SUCCESS,
)
async def remove_region(ctx: ServiceContext, p: RemoveRegionParams) -> Success:
    await regions.remove_region(ctx, region_id=p.id)
    return Success()


class ListRegionsParams(ListParams):
    id: Integer | None = Field(None, ge=1, description="List the region of this id")
    name: str | None = Field(None, max_length=255, description="List the region of this name")


@commands.command(
    "listRegions",
    ListRegionsParams,
    description="Lists the regions of the cloud",
    allowed=ANYONE,
    response=("region", RegionResponse),
    writes=False,
)
async def list_regions(ctx: ServiceContext, p: ListRegionsParams) -> ListResult:
    page = await regions.list_regions(
        ctx,
        region_id=p.id,
        name=p.name,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    pulls = await read_pull_status(ctx.session)
    views = [region_view(r, pulls.get(r.id)) for r in page.items]
    return ListResult("region", views, page.total)
