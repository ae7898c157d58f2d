"""Host HA: configureHAForHost, enable/disable for a host, cluster or zone, and listings.

Root admins only, as in CloudStack. What the states mean and what the region does in
each is in docs/ha.md ("Host HA"); ``listHosts`` shows the same ``hostha`` object.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet
from altostratus.api.params import Params, Uuid
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Cluster, Host, HostHa, Zone
from altostratus.db.models.host_ha import HaState
from altostratus.db.models.inventory import Hypervisor
from altostratus.ha.hosts import config
from altostratus.services.infrastructure import hosts

__all__ = [
    "ClusterIdParams",
    "ConfigureHaParams",
    "HaProviderResponse",
    "HostHaIdParams",
    "HostHaResponse",
    "ListHostHaProvidersParams",
    "ListHostHaResourcesParams",
    "ZoneIdParams",
    "commands",
    "configure_ha_for_host",
    "disable_ha_for_cluster",
    "disable_ha_for_host",
    "disable_ha_for_zone",
    "enable_ha_for_cluster",
    "enable_ha_for_host",
    "enable_ha_for_zone",
    "host_ha_view",
    "list_host_ha_providers",
    "list_host_ha_resources",
]

commands = CommandSet()


class HostHaResponse(ResponseObject):
    hostid: str
    haenable: bool
    haprovider: str | None = None
    hastate: str
    status: bool | None = None


def host_ha_view(
    host: Host, resource: HostHa | None, *, status: bool | None = None
) -> HostHaResponse:
    """The ``hostha`` object: a host never configured is HA-disabled, without a provider."""
    return HostHaResponse(
        hostid=host.uuid,
        haenable=bool(resource and resource.enabled),
        haprovider=resource.provider if resource else None,
        hastate=resource.state if resource else HaState.DISABLED,
        status=status,
    )


class ConfigureHaParams(Params):
    hostid: Uuid = Field(description="The host")
    provider: str = Field(
        min_length=1, max_length=64, description="The HA provider (listHostHAProviders)"
    )


@commands.command(
    "configureHAForHost",
    ConfigureHaParams,
    description="Configures the HA provider of a host (HA stays disabled until enabled)",
    allowed=ADMIN,
    response=("hostha", HostHaResponse),
    is_async=True,
    related=("enableHAForHost", "listHostHAResources"),
)
async def configure_ha_for_host(ctx: ServiceContext, p: ConfigureHaParams) -> Single:
    host, resource = await config.configure(ctx, p.hostid, p.provider)
    return Single("hostha", host_ha_view(host, resource, status=True))


class HostHaIdParams(Params):
    hostid: Uuid = Field(description="The host")


@commands.command(
    "enableHAForHost",
    HostHaIdParams,
    description="Enables HA for a host: if it dies, it is fenced and its HA VMs restarted",
    allowed=ADMIN,
    response=("hostha", HostHaResponse),
    is_async=True,
)
async def enable_ha_for_host(ctx: ServiceContext, p: HostHaIdParams) -> Single:
    host, resource = await config.set_host_enabled(ctx, p.hostid, True)
    return Single("hostha", host_ha_view(host, resource, status=True))


@commands.command(
    "disableHAForHost",
    HostHaIdParams,
    description="Disables HA for a host: it is no longer investigated or fenced",
    allowed=ADMIN,
    response=("hostha", HostHaResponse),
    is_async=True,
)
async def disable_ha_for_host(ctx: ServiceContext, p: HostHaIdParams) -> Single:
    host, resource = await config.set_host_enabled(ctx, p.hostid, False)
    return Single("hostha", host_ha_view(host, resource, status=True))


class ClusterIdParams(Params):
    clusterid: Uuid = Field(description="The cluster")


class ZoneIdParams(Params):
    zoneid: Uuid = Field(description="The zone")


@commands.command(
    "enableHAForCluster",
    ClusterIdParams,
    description="Enables HA for the hosts of a cluster (their own HA must be enabled too)",
    allowed=ADMIN,
    response=SUCCESS,
    is_async=True,
)
async def enable_ha_for_cluster(ctx: ServiceContext, p: ClusterIdParams) -> Success:
    await config.set_scope_enabled(ctx, Cluster, p.clusterid, True)
    return Success()


@commands.command(
    "disableHAForCluster",
    ClusterIdParams,
    description="Disables HA for every host of a cluster (they become Ineligible)",
    allowed=ADMIN,
    response=SUCCESS,
    is_async=True,
)
async def disable_ha_for_cluster(ctx: ServiceContext, p: ClusterIdParams) -> Success:
    await config.set_scope_enabled(ctx, Cluster, p.clusterid, False)
    return Success()


@commands.command(
    "enableHAForZone",
    ZoneIdParams,
    description="Enables HA for the hosts of a zone (their own HA must be enabled too)",
    allowed=ADMIN,
    response=SUCCESS,
    is_async=True,
)
async def enable_ha_for_zone(ctx: ServiceContext, p: ZoneIdParams) -> Success:
    await config.set_scope_enabled(ctx, Zone, p.zoneid, True)
    return Success()


@commands.command(
    "disableHAForZone",
    ZoneIdParams,
    description="Disables HA for every host of a zone (they become Ineligible)",
    allowed=ADMIN,
    response=SUCCESS,
    is_async=True,
)
async def disable_ha_for_zone(ctx: ServiceContext, p: ZoneIdParams) -> Success:
    await config.set_scope_enabled(ctx, Zone, p.zoneid, False)
    return Success()


class HaProviderResponse(ResponseObject):
    haprovider: str


class ListHostHaProvidersParams(Params):
    hypervisor: Hypervisor = Field(description="The hypervisor: KVM or Simulator")


@commands.command(
    "listHostHAProviders",
    ListHostHaProvidersParams,
    description="Lists the HA providers of a hypervisor",
    allowed=ADMIN,
    response=("haprovider", HaProviderResponse),
    writes=False,
)
async def list_host_ha_providers(ctx: ServiceContext, p: ListHostHaProvidersParams) -> ListResult:
    found = config.providers(p.hypervisor)
    return ListResult(
        "haprovider", [HaProviderResponse(haprovider=name) for name in found], len(found)
    )


class ListHostHaResourcesParams(Params):
    hostid: Uuid | None = Field(None, description="List the HA resource of this host")


@commands.command(
    "listHostHAResources",
    ListHostHaResourcesParams,
    description="Lists the HA resources of hosts (those configured with a provider)",
    allowed=ADMIN,
    response=("hostha", HostHaResponse),
    writes=False,
)
async def list_host_ha_resources(ctx: ServiceContext, p: ListHostHaResourcesParams) -> ListResult:
    wanted = [await hosts.get_host(ctx, p.hostid, "hostid")] if p.hostid else None
    listed = await config.list_resources(ctx, [host.id for host in wanted] if wanted else None)
    return ListResult(
        "hostha", [host_ha_view(host, resource) for host, resource in listed], len(listed)
    )
