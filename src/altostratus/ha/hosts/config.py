"""Host HA as operators set it: configure a provider, enable or disable per host, cluster, zone.

A host's HA needs a provider (``configureHAForHost``) and to be enabled for it; HA is on
for every cluster and zone unless disabled there. Enabling makes the host Available (the
monitor then finds it Ineligible if its cluster or zone has HA off, or it is not
Enabled); disabling makes it Disabled at once, whatever it was doing: an investigation
stops at its next step, restarts already submitted run on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, HaScope, Host, HostHa, Zone
from altostratus.db.models.host_ha import HaState
from altostratus.db.models.inventory import Hypervisor
from altostratus.db.upsert import insert_for
from altostratus.errors import InvalidParameter, invalid
from altostratus.ha.hosts import states
from altostratus.services.infrastructure.hosts import get_host, host_event
from altostratus.services.shared.lookup import find_by_uuid

__all__ = [
    "configure",
    "list_resources",
    "providers",
    "resources_of",
    "set_host_enabled",
    "set_scope_enabled",
]


def providers(hypervisor: Hypervisor) -> list[str]:
    """The HA providers of a hypervisor (``listHostHAProviders``)."""
    provider = states.PROVIDERS.get(hypervisor.value)
    return [provider] if provider else []


async def resources_of(session: AsyncSession, host_ids: Sequence[int]) -> dict[int, HostHa]:
    """The HA resources of these hosts, by host id (a host never configured has none)."""
    if not host_ids:
        return {}
    found = await session.scalars(select(HostHa).where(HostHa.host_id.in_(list(host_ids))))
    return {resource.host_id: resource for resource in found}


async def configure(ctx: ServiceContext, host_uuid: str, provider: str) -> tuple[Host, HostHa]:
    """Set the host's HA provider; a new resource starts Disabled."""
    host = await get_host(ctx, host_uuid, "hostid")
    wanted = provider.lower()
    if wanted not in providers(Hypervisor(host.hypervisor)):
        raise invalid(
            "provider",
            f"not an HA provider of {host.hypervisor} hosts "
            f"({', '.join(providers(Hypervisor(host.hypervisor))) or 'none'})",
            value=provider,
        )
    resource = await ctx.session.get(HostHa, host.id)
    if resource is None:
        resource = HostHa(host_id=host.id, enabled=False, state=HaState.DISABLED)
        ctx.session.add(resource)
    resource.provider = wanted
    await ctx.session.flush()
    await host_event(ctx, host, "HA.RESOURCE.CONFIGURE", f"Host {host.name} HA provider {wanted}")
    return host, resource


async def set_host_enabled(
    ctx: ServiceContext, host_uuid: str, enabled: bool
) -> tuple[Host, HostHa]:
    host = await get_host(ctx, host_uuid, "hostid")
    resource = await ctx.session.get(HostHa, host.id)
    if resource is None or resource.provider is None:
        raise InvalidParameter(
            f"HA is not configured for host {host.name} ({host.uuid}); "
            "configure a provider with configureHAForHost first"
        )
    resource.enabled = enabled
    await ctx.session.flush()
    target = HaState.AVAILABLE if enabled else HaState.DISABLED
    if resource.state in (HaState.DISABLED, HaState.INELIGIBLE) or not enabled:
        await states.move(
            ctx,
            resource,
            host,
            target,
            "enabled by an operator" if enabled else "disabled by an operator",
        )
    return host, resource


async def set_scope_enabled(
    ctx: ServiceContext, scope: type[Cluster] | type[Zone], uuid: str, enabled: bool
) -> None:
    """HA on or off for every host of a cluster or zone (``enableHAForCluster``, …)."""
    parameter = "clusterid" if scope is Cluster else "zoneid"
    target = await find_by_uuid(ctx, scope, uuid, parameter)
    key = {"scope": scope.__name__, "scope_id": target.id}
    if enabled:
        await ctx.session.execute(
            delete(HaScope).where(HaScope.scope == key["scope"], HaScope.scope_id == target.id)
        )
    else:
        await ctx.session.execute(
            insert_for(ctx.session, HaScope).values(**key).on_conflict_do_nothing()
        )


async def list_resources(
    ctx: ServiceContext, host_ids: Sequence[int] | None
) -> list[tuple[Host, HostHa]]:
    """The configured HA resources (of ``host_ids`` only, if given), with their hosts."""
    query = (
        select(Host, HostHa)
        .join(HostHa, HostHa.host_id == Host.id)
        .where(Host.removed.is_(None))
        .order_by(Host.id)
    )
    if host_ids is not None:
        query = query.where(Host.id.in_(list(host_ids)))
    return [(row[0], row[1]) for row in await ctx.session.execute(query)]
