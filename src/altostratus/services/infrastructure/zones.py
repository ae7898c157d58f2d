"""Zones: ``createZone``, ``updateZone``, ``deleteZone`` and ``listZones``.

Anyone may list zones, but only what they could deploy into: root admins see every
zone; everyone else sees Enabled zones that are public or dedicated to a domain on
their path to ROOT (domain admins also those dedicated inside their subtree, which
they manage).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from altostratus.core.context import Caller, ServiceContext
from altostratus.core.paging import (
    Page,
    PageRequest,
    equal_if_given,
    keyword_filter,
    paginate,
)
from altostratus.db.models import Domain, Pod, Zone
from altostratus.db.models.inventory import AllocationState, NetworkType
from altostratus.errors import ResourceInUse
from altostratus.services.shared.lookup import ensure_name_free, find_by_uuid, record_change
from altostratus.services.shared.visibility import subtree_filter

__all__ = ["ZoneSettings", "create_zone", "delete_zone", "list_zones", "update_zone"]


@dataclass(frozen=True)
class ZoneSettings:
    """What ``createZone`` and ``updateZone`` both set; ``None`` means "not given".

    Field names are the column names of ``Zone``, so the settings apply one to one.
    """

    name: str | None = None
    description: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    internal_dns1: str | None = None
    internal_dns2: str | None = None
    ip6_dns1: str | None = None
    ip6_dns2: str | None = None
    guest_cidr: str | None = None
    network_domain: str | None = None
    allocation_state: AllocationState | None = None
    local_storage_enabled: bool | None = None


async def _apply(ctx: ServiceContext, zone: Zone, settings: ZoneSettings) -> None:
    if settings.name is not None:
        await ensure_name_free(ctx, Zone, settings.name, true(), parameter="name", renamed=zone)
    for field in fields(settings):
        value = getattr(settings, field.name)
        if value is not None:
            setattr(zone, field.name, value)


async def create_zone(
    ctx: ServiceContext,
    *,
    name: str,
    network_type: NetworkType,
    dns1: str,
    internal_dns1: str,
    security_group_enabled: bool,
    dedicated_domain_uuid: str | None,
    settings: ZoneSettings,
) -> Zone:
    """A new zone; ``name``, ``dns1`` and ``internal_dns1`` win over the same ``settings``."""
    domain = None
    if dedicated_domain_uuid is not None:
        domain = await find_by_uuid(ctx, Domain, dedicated_domain_uuid, "domainid")
    zone = Zone(
        network_type=network_type, security_group_enabled=security_group_enabled, domain=domain
    )
    await _apply(ctx, zone, replace(settings, name=name, dns1=dns1, internal_dns1=internal_dns1))
    ctx.session.add(zone)
    await ctx.session.flush()
    await record_change(ctx, zone, "CREATE")
    return zone


async def update_zone(ctx: ServiceContext, *, zone_uuid: str, changes: ZoneSettings) -> Zone:
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "id")
    await _apply(ctx, zone, changes)
    await ctx.session.flush()
    await record_change(ctx, zone, "EDIT")
    return zone


async def delete_zone(ctx: ServiceContext, *, zone_uuid: str) -> None:
    """Only an empty zone goes: its pods (and their clusters) must be deleted first."""
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "id")
    pods = await ctx.session.scalar(select(func.count()).where(Pod.zone_id == zone.id))
    if pods:
        raise ResourceInUse(
            f"Zone {zone.name} still has {pods} pod(s); delete them before the zone"
        )
    await record_change(ctx, zone, "DELETE")
    await ctx.session.delete(zone)


def _ancestor_paths(path: str) -> list[str]:
    """``ROOT/d1/sub`` → ``ROOT``, ``ROOT/d1``, ``ROOT/d1/sub``."""
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


def _visible_to(caller: Caller) -> ColumnElement[bool]:
    if caller.is_root_admin:
        return true()
    reachable: ColumnElement[bool] = Domain.path.in_(_ancestor_paths(caller.domain_path))
    if caller.is_domain_admin:
        reachable = or_(reachable, subtree_filter(Domain.path, caller.domain_path))
    return and_(
        Zone.allocation_state == AllocationState.ENABLED,
        or_(Zone.domain_id.is_(None), Zone.domain_id.in_(select(Domain.id).where(reachable))),
    )


async def list_zones(
    ctx: ServiceContext,
    *,
    zone_uuid: str | None,
    name: str | None,
    available: bool,
    network_type: NetworkType | None,
    domain_uuid: str | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Zone]:
    """Zones the caller may see; ``available`` keeps only Enabled ones (root admins too)."""
    query = select(Zone).where(
        _visible_to(ctx.caller),
        equal_if_given(
            (Zone.uuid, zone_uuid),
            (Zone.name, name),
            (Zone.network_type, network_type),
            (Zone.allocation_state, AllocationState.ENABLED if available else None),
        ),
        keyword_filter(keyword, Zone.name, Zone.description),
    )
    if domain_uuid is not None:
        domain = await find_by_uuid(ctx, Domain, domain_uuid, "domainid")
        query = query.where(Zone.domain_id == domain.id)
    return await paginate(ctx.session, query.order_by(Zone.id), page)
