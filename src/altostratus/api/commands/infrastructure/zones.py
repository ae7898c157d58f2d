"""Zone commands. Anyone lists zones (``services.infrastructure.zones`` decides which), but
only root admins change them or see a zone's DNS servers and guest CIDR, as in
CloudStack's restricted response view.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.address_params import GuestCidr, Ipv4, Ipv6, Name, NetworkDomain
from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import DeleteParams, ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import Zone
from altostratus.db.models.inventory import (
    AllocationState,
    NetworkType,
)
from altostratus.services.infrastructure import zones
from altostratus.services.infrastructure.zones import ZoneSettings
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateZoneParams",
    "ListZonesParams",
    "UpdateZoneParams",
    "ZoneResponse",
    "ZoneSettingsParams",
    "commands",
    "create_zone",
    "delete_zone",
    "list_zones",
    "update_zone",
    "zone_view",
]

commands = CommandSet()


class ZoneResponse(ResponseObject):
    id: str
    name: str
    description: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    internaldns1: str | None = None
    internaldns2: str | None = None
    ip6dns1: str | None = None
    ip6dns2: str | None = None
    guestcidraddress: str | None = None
    networktype: str
    securitygroupsenabled: bool
    allocationstate: str
    localstorageenabled: bool
    #: The zone's network domain (not the dedicated domain: that is ``domainid``).
    domain: str | None = Field(None, description="the network domain of the zone's guests")
    domainid: str | None = None
    domainname: str | None = None
    dhcpprovider: str = "VirtualRouter"
    created: str


def zone_view(zone: Zone, *, full: bool) -> ZoneResponse:
    """``full`` (root admins) adds the DNS servers and guest CIDR."""
    addressing = (
        {
            "dns1": zone.dns1,
            "dns2": zone.dns2,
            "internaldns1": zone.internal_dns1,
            "internaldns2": zone.internal_dns2,
            "ip6dns1": zone.ip6_dns1,
            "ip6dns2": zone.ip6_dns2,
            "guestcidraddress": zone.guest_cidr,
        }
        if full
        else {}
    )
    return ZoneResponse(
        id=zone.uuid,
        name=zone.name,
        description=zone.description,
        networktype=zone.network_type,
        securitygroupsenabled=zone.security_group_enabled,
        allocationstate=zone.allocation_state,
        localstorageenabled=zone.local_storage_enabled,
        domain=zone.network_domain,
        domainid=zone.domain.uuid if zone.domain else None,
        domainname=zone.domain.name if zone.domain else None,
        created=format_timestamp(zone.created),
        **addressing,
    )


class ZoneSettingsParams(Params):
    """What createZone and updateZone share; createZone makes the first three required."""

    name: Name | None = Field(None, description="New name of the zone")
    dns1: Ipv4 | None = Field(None, description="First DNS server for guests")
    internaldns1: Ipv4 | None = Field(None, description="First DNS server for system VMs")
    description: str | None = Field(None, max_length=1024, description="Description of the zone")
    dns2: Ipv4 | None = Field(None, description="Second DNS server for guests")
    internaldns2: Ipv4 | None = Field(None, description="Second DNS server for system VMs")
    ip6dns1: Ipv6 | None = Field(None, description="First IPv6 DNS server for guests")
    ip6dns2: Ipv6 | None = Field(None, description="Second IPv6 DNS server for guests")
    domain: NetworkDomain | None = Field(None, description="Network domain of the zone's guests")
    guestcidraddress: GuestCidr | None = Field(None, description="Guest CIDR (Advanced zones)")
    allocationstate: AllocationState | None = Field(
        None, description="Enabled or Disabled (Disabled: only root admins see and use it)"
    )
    localstorageenabled: bool | None = Field(
        None, description="Whether VMs may use the hosts' local disks"
    )

    def settings(self) -> ZoneSettings:
        return ZoneSettings(
            name=self.name,
            description=self.description,
            dns1=self.dns1,
            dns2=self.dns2,
            internal_dns1=self.internaldns1,
            internal_dns2=self.internaldns2,
            ip6_dns1=self.ip6dns1,
            ip6_dns2=self.ip6dns2,
            guest_cidr=self.guestcidraddress,
            network_domain=self.domain,
            allocation_state=self.allocationstate,
            local_storage_enabled=self.localstorageenabled,
        )


class CreateZoneParams(ZoneSettingsParams):
    name: Name = Field(description="Name of the zone; unique in the region")
    dns1: Ipv4 = Field(description="First DNS server for guests")
    internaldns1: Ipv4 = Field(description="First DNS server for system VMs")
    networktype: NetworkType = Field(description="Basic or Advanced")
    domainid: Uuid | None = Field(None, description="Dedicate the zone to this domain")
    securitygroupenabled: bool = Field(False, description="Whether the zone uses security groups")


@commands.command(
    "createZone",
    CreateZoneParams,
    description="Creates a zone",
    allowed=ADMIN,
    response=("zone", ZoneResponse),
    related=("listZones",),
)
async def create_zone(ctx: ServiceContext, p: CreateZoneParams) -> Single:
    zone = await zones.create_zone(
        ctx,
        name=p.name,
        network_type=p.networktype,
        dns1=p.dns1,
        internal_dns1=p.internaldns1,
        security_group_enabled=p.securitygroupenabled,
        dedicated_domain_uuid=p.domainid,
        settings=p.settings(),
    )
    return Single("zone", zone_view(zone, full=True))


class UpdateZoneParams(ZoneSettingsParams):
    id: Uuid = Field(description="The zone to update")


@commands.command(
    "updateZone",
    UpdateZoneParams,
    description="Updates a zone",
    allowed=ADMIN,
    response=("zone", ZoneResponse),
    related=("listZones",),
)
async def update_zone(ctx: ServiceContext, p: UpdateZoneParams) -> Single:
    zone = await zones.update_zone(ctx, zone_uuid=p.id, changes=p.settings())
    return Single("zone", zone_view(zone, full=True))


@commands.command(
    "deleteZone",
    DeleteParams,
    description="Deletes a zone that has no pods",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_zone(ctx: ServiceContext, p: DeleteParams) -> Success:
    await zones.delete_zone(ctx, zone_uuid=p.id)
    return Success()


class ListZonesParams(ListParams):
    id: Uuid | None = Field(None, description="List the zone of this id")
    name: str | None = Field(None, max_length=255, description="List the zone of this name")
    available: bool = Field(False, description="List only zones open for deployment (Enabled)")
    networktype: NetworkType | None = Field(None, description="Basic or Advanced")
    domainid: Uuid | None = Field(None, description="List zones dedicated to this domain")
    showcapacities: bool = Field(
        False, description="Accepted; capacities are reported once the zone has hosts"
    )


@commands.command(
    "listZones",
    ListZonesParams,
    description="Lists the zones the caller may use",
    allowed=ANYONE,
    response=("zone", ZoneResponse),
    writes=False,
)
async def list_zones(ctx: ServiceContext, p: ListZonesParams) -> ListResult:
    page = await zones.list_zones(
        ctx,
        zone_uuid=p.id,
        name=p.name,
        available=p.available,
        network_type=p.networktype,
        domain_uuid=p.domainid,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    full = ctx.caller.is_root_admin
    return ListResult("zone", [zone_view(z, full=full) for z in page.items], page.total)
