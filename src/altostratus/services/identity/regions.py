"""The region registry: ``addRegion``, ``updateRegion``, ``removeRegion``, ``listRegions``.

Region ids are chosen by the operator and must be the same in every region; the local
region (fixed at first start) can be renamed but never removed.
"""

from __future__ import annotations

from sqlalchemy import select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Region
from altostratus.errors import InvalidParameter, PermissionDenied
from altostratus.services.shared.events import record_event

__all__ = ["add_region", "admit_region", "list_regions", "remove_region", "update_region"]


async def _get(ctx: ServiceContext, region_id: int) -> Region:
    region = await ctx.session.get(Region, region_id)
    if region is None:
        raise InvalidParameter(f"Region with id {region_id} does not exist")
    return region


async def _require_unique_name(ctx: ServiceContext, name: str, region_id: int) -> None:
    clash = await ctx.session.scalar(
        select(Region).where(Region.name == name, Region.id != region_id)
    )
    if clash is not None:
        raise InvalidParameter(f"Region with name {name} already exists (id {clash.id})")


async def admit_region(ctx: ServiceContext, *, region_id: int, name: str, endpoint: str) -> None:
    """Add a region joining the federation through this one; a repeated join is a no-op.

    Only a root admin may: the join hands the new region the federation's keys.
    """
    if not ctx.caller.is_root_admin:
        raise PermissionDenied(
            f"Account {ctx.caller.account_name} is not a root admin: only a root admin "
            "may join a region to the federation"
        )
    if region_id == ctx.deps.local_region_id:
        raise InvalidParameter(f"Region id {region_id} is the id of the region joined to")
    known = await ctx.session.get(Region, region_id)
    if known is not None and (known.name, known.endpoint) == (name, endpoint):
        return
    await add_region(ctx, region_id=region_id, name=name, endpoint=endpoint)


async def add_region(ctx: ServiceContext, *, region_id: int, name: str, endpoint: str) -> Region:
    if await ctx.session.get(Region, region_id) is not None:
        raise InvalidParameter(f"Region with id {region_id} already exists")
    await _require_unique_name(ctx, name, region_id)
    region = Region(id=region_id, name=name, endpoint=endpoint)
    ctx.session.add(region)
    await ctx.session.flush()
    await record_event(
        ctx,
        "REGION.ADD",
        f"Added region {region_id} ({name}) at {endpoint}",
        resource_type="Region",
    )
    return region


async def update_region(
    ctx: ServiceContext, *, region_id: int, name: str | None, endpoint: str | None
) -> Region:
    region = await _get(ctx, region_id)
    if name is not None:
        await _require_unique_name(ctx, name, region_id)
        region.name = name
    if endpoint is not None:
        region.endpoint = endpoint
    await record_event(
        ctx, "REGION.UPDATE", f"Updated region {region_id} ({region.name})", resource_type="Region"
    )
    return region


async def remove_region(ctx: ServiceContext, *, region_id: int) -> None:
    region = await _get(ctx, region_id)
    if region_id == ctx.deps.local_region_id:
        raise InvalidParameter(f"Region {region_id} is the local region and cannot be removed")
    await ctx.session.delete(region)
    await record_event(
        ctx, "REGION.DELETE", f"Removed region {region_id} ({region.name})", resource_type="Region"
    )


async def list_regions(
    ctx: ServiceContext,
    *,
    region_id: int | None,
    name: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Region]:
    query = (
        select(Region)
        .where(
            equal_if_given((Region.id, region_id), (Region.name, name)),
            keyword_filter(keyword, Region.name),
        )
        .order_by(Region.id)
    )
    return await paginate(ctx.session, query, page)
