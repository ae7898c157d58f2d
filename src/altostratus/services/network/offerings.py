"""Network offerings: what a network built from one provides, and who may build one.

Root admins create them (Disabled, unless ``enable=true``, as CloudStack does), enable
and disable them, and delete those no network uses (536 while one does; the shipped
default offerings are never deleted). Everyone lists the Enabled ones offered to their
domain; root admins list all. ``createNetwork`` takes only an Enabled offering, in the
zone it is limited to, if any.

An offering's services are CloudStack's names, each with one provider: the one given
in ``serviceproviderlist``, else its default (``SecurityGroupProvider`` for
``SecurityGroup``, ``VirtualRouter`` for the others). Names are matched
case-insensitively and stored in CloudStack's spelling (Ansible sends ``dns`` and
``virtualrouter``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import Domain, Network, NetworkOffering, ServiceOffering, Zone
from altostratus.errors import InvalidParameter, ResourceInUse, invalid
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.visibility import offered_to

__all__ = [
    "ALL_ZONES",
    "DISABLED",
    "ENABLED",
    "PROVIDERS",
    "PUBLIC",
    "SERVICES",
    "NetworkOfferingChange",
    "NetworkOfferingFilters",
    "NetworkOfferingSpec",
    "ServiceProvision",
    "create_network_offering",
    "delete_network_offering",
    "list_network_offerings",
    "provisions",
    "update_network_offering",
    "usable_offering",
]

ENABLED = "Enabled"
DISABLED = "Disabled"
_STATES = (ENABLED, DISABLED)
_GUEST_TYPES = ("Shared", "Isolated", "L2")
_AVAILABILITIES = ("Optional", "Required")
SERVICES = (
    "Vpn",
    "Dhcp",
    "Dns",
    "Gateway",
    "Firewall",
    "Lb",
    "UserData",
    "SourceNat",
    "StaticNat",
    "PortForwarding",
    "SecurityGroup",
    "NetworkACL",
    "Connectivity",
    "BaremetalPxeService",
)
PROVIDERS = (
    "VirtualRouter",
    "VpcVirtualRouter",
    "InternalLbVm",
    "SecurityGroupProvider",
    "ConfigDrive",
    "Netscaler",
    "F5BigIp",
    "JuniperSRX",
    "PaloAlto",
    "NiciraNvp",
    "BigSwitchBcf",
    "Ovs",
    "BaremetalDhcpProvider",
    "BaremetalPxeProvider",
    "BaremetalUserdataProvider",
)


@dataclass(frozen=True)
class ServiceProvision:
    """A service of an offering and the provider that gives it."""

    service: str
    provider: str


def _default_provider(service: str) -> str:
    return "SecurityGroupProvider" if service == "SecurityGroup" else "VirtualRouter"


def provisions(offering: NetworkOffering) -> list[ServiceProvision]:
    """The offering's services, in the order given, each with its provider."""
    found = []
    for entry in offering.services.split(","):
        if entry:
            service, _colon, provider = entry.partition(":")
            found.append(ServiceProvision(service, provider or _default_provider(service)))
    return found


def _spelled(value: str, vocabulary: Sequence[str], parameter: str) -> str:
    """``value`` in CloudStack's spelling; 431 naming ``parameter`` when unknown."""
    for known in vocabulary:
        if known.lower() == value.strip().lower():
            return known
    raise invalid(parameter, f"not one of {', '.join(vocabulary)}", value=value)


@dataclass(frozen=True)
class NetworkOfferingSpec:
    """A new offering as given (names not yet checked); ``providers`` maps services."""

    name: str
    display_text: str
    guest_ip_type: str
    traffic_type: str
    services: tuple[str, ...] = ()
    providers: tuple[tuple[str, str], ...] = ()
    specify_vlan: bool = False
    specify_ip_ranges: bool = False
    availability: str = "Optional"
    conserve_mode: bool = True
    egress_default_policy: bool = True
    is_persistent: bool = False
    for_vpc: bool = False
    network_rate: int | None = None
    max_connections: int | None = None
    tags: str | None = None
    enable: bool = False
    #: The system offering of its virtual routers.
    router_offering_uuid: str | None = None

    def services_text(self) -> str:
        """The ``services`` column: every service with its provider (431 naming the
        parameter for an unknown name, or a provider for a service not offered)."""
        services = list(
            dict.fromkeys(_spelled(s, SERVICES, "supportedservices") for s in self.services)
        )
        chosen: dict[str, str] = {}
        for service_name, provider_name in self.providers:
            service = _spelled(service_name, SERVICES, "serviceproviderlist")
            if service not in services:
                raise invalid(
                    "serviceproviderlist",
                    f"service {service} is not in supportedservices",
                    value=service_name,
                )
            chosen[service] = _spelled(provider_name, PROVIDERS, "serviceproviderlist")
        return ",".join(f"{s}:{chosen.get(s, _default_provider(s))}" for s in services)


async def _check_name_free(
    session: AsyncSession, name: str, renamed: NetworkOffering | None = None
) -> None:
    query = select(NetworkOffering.uuid).where(NetworkOffering.name == name)
    if renamed is not None:
        query = query.where(NetworkOffering.id != renamed.id)
    clash = await session.scalar(query)
    if clash is not None:
        raise invalid("name", f"network offering {clash} already has this name", value=name)


async def _check_availability(
    session: AsyncSession, availability: str, offering: NetworkOffering | None = None
) -> str:
    """CloudStack's spelling; only one offering may be Required (the default for new
    networks)."""
    spelled = _spelled(availability, _AVAILABILITIES, "availability")
    if spelled == "Required":
        query = select(NetworkOffering.name).where(NetworkOffering.availability == "Required")
        if offering is not None:
            query = query.where(NetworkOffering.id != offering.id)
        other = await session.scalar(query)
        if other is not None:
            raise invalid(
                "availability", f"network offering {other} is already Required", value=spelled
            )
    return spelled


async def _domain_id(ctx: ServiceContext, domain_uuid: str | None) -> int | None:
    if domain_uuid is None:
        return None
    return (await find_by_uuid(ctx, Domain, domain_uuid, "domainid")).id


async def _zone_id(ctx: ServiceContext, zone_uuid: str | None) -> int | None:
    if zone_uuid is None:
        return None
    return (await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")).id


async def _router_offering_id(ctx: ServiceContext, offering_uuid: str | None) -> int | None:
    """The system offering of the offering's virtual routers: a live system offering
    for domain routers (CloudStack's rule), else 431 naming ``serviceofferingid``."""
    if offering_uuid is None:
        return None
    found = await ctx.session.scalar(
        select(ServiceOffering).where(
            ServiceOffering.uuid == offering_uuid, ServiceOffering.removed.is_(None)
        )
    )
    if found is None:
        raise InvalidParameter(
            f"Unable to find service offering with id {offering_uuid} (parameter serviceofferingid)"
        )
    if not found.is_system or found.system_vm_type != "domainrouter":
        raise invalid(
            "serviceofferingid",
            "not a system offering for virtual routers (systemvmtype=domainrouter)",
            value=offering_uuid,
        )
    return found.id


async def _record(ctx: ServiceContext, offering: NetworkOffering, action: str) -> None:
    verb = {"CREATE": "Created", "EDIT": "Updated", "DELETE": "Deleted"}[action]
    await record_event(
        ctx,
        f"NETWORK.OFFERING.{action}",
        f"{verb} network offering {offering.name} ({offering.uuid})",
        resource_type="NetworkOffering",
        resource_uuid=offering.uuid,
    )


_PLAIN = frozenset(
    {
        "name",
        "display_text",
        "specify_vlan",
        "specify_ip_ranges",
        "conserve_mode",
        "egress_default_policy",
        "is_persistent",
        "for_vpc",
        "network_rate",
        "max_connections",
        "tags",
    }
)


async def create_network_offering(
    ctx: ServiceContext,
    spec: NetworkOfferingSpec,
    *,
    domain_uuid: str | None,
    zone_uuid: str | None,
) -> NetworkOffering:
    """A new offering, Disabled unless ``spec.enable``; nothing is written on a 431."""
    if spec.traffic_type.strip().lower() != "guest":
        raise invalid("traffictype", "only Guest is supported", value=spec.traffic_type)
    await _check_name_free(ctx.session, spec.name)
    offering = NetworkOffering(
        **{f.name: getattr(spec, f.name) for f in fields(spec) if f.name in _PLAIN},
        guest_ip_type=_spelled(spec.guest_ip_type, _GUEST_TYPES, "guestiptype"),
        traffic_type="Guest",
        services=spec.services_text(),
        availability=await _check_availability(ctx.session, spec.availability),
        state=ENABLED if spec.enable else DISABLED,
        is_default=False,
        domain_id=await _domain_id(ctx, domain_uuid),
        zone_id=await _zone_id(ctx, zone_uuid),
        service_offering_id=await _router_offering_id(ctx, spec.router_offering_uuid),
    )
    ctx.session.add(offering)
    await ctx.session.flush()
    await ctx.session.refresh(offering, ["domain", "zone", "service_offering"])
    await _record(ctx, offering, "CREATE")
    return offering


#: ``domainid=public`` and ``zoneid=all`` lift a restriction (``updateNetworkOffering``).
PUBLIC = "public"
ALL_ZONES = "all"


@dataclass(frozen=True)
class NetworkOfferingChange:
    """What ``updateNetworkOffering`` changes; ``None`` keeps the value."""

    name: str | None = None
    display_text: str | None = None
    state: str | None = None
    availability: str | None = None
    max_connections: int | None = None
    tags: str | None = None
    #: A domain's UUID, or ``PUBLIC``.
    domain: str | None = None
    #: A zone's UUID, or ``ALL_ZONES``.
    zone: str | None = None


async def _get(ctx: ServiceContext, uuid: str) -> NetworkOffering:
    offering = await ctx.session.scalar(select(NetworkOffering).where(NetworkOffering.uuid == uuid))
    if offering is None:
        raise InvalidParameter(f"Unable to find network offering with id {uuid} (parameter id)")
    return offering


async def update_network_offering(
    ctx: ServiceContext, uuid: str, change: NetworkOfferingChange
) -> NetworkOffering:
    """Rename, re-describe, enable or disable, or re-scope; networks already built from
    the offering keep working whatever its state."""
    offering = await _get(ctx, uuid)
    if change.name is not None:
        await _check_name_free(ctx.session, change.name, renamed=offering)
        offering.name = change.name
    if change.display_text is not None:
        offering.display_text = change.display_text
    if change.state is not None:
        offering.state = _spelled(change.state, _STATES, "state")
    if change.availability is not None:
        offering.availability = await _check_availability(
            ctx.session, change.availability, offering
        )
    if change.max_connections is not None:
        offering.max_connections = change.max_connections
    if change.tags is not None:
        offering.tags = change.tags or None
    if change.domain is not None:
        offering.domain_id = (
            None if change.domain.lower() == PUBLIC else await _domain_id(ctx, change.domain)
        )
    if change.zone is not None:
        offering.zone_id = (
            None if change.zone.lower() == ALL_ZONES else await _zone_id(ctx, change.zone)
        )
    await ctx.session.flush()
    await ctx.session.refresh(offering, ["domain", "zone"])
    await _record(ctx, offering, "EDIT")
    return offering


async def delete_network_offering(ctx: ServiceContext, uuid: str) -> None:
    """Only an offering no network uses goes (536 naming how many do); the shipped
    default offerings stay (431)."""
    offering = await _get(ctx, uuid)
    if offering.is_default:
        raise invalid("id", "a default network offering cannot be deleted", value=uuid)
    used = await ctx.session.scalar(
        select(func.count()).where(Network.network_offering_id == offering.id)
    )
    if used:
        raise ResourceInUse(
            f"Network offering {offering.name} is used by {used} network(s); delete them, "
            "or disable the offering (updateNetworkOffering state=Disabled) to stop new ones"
        )
    await _record(ctx, offering, "DELETE")
    await ctx.session.delete(offering)


async def usable_offering(ctx: ServiceContext, uuid: str, zone: Zone) -> NetworkOffering:
    """The offering ``createNetwork`` builds a network of in ``zone``: it exists, is
    offered to the caller, is Enabled and serves that zone; else 431 naming
    ``networkofferingid``."""
    offering = await ctx.session.scalar(
        select(NetworkOffering).where(
            NetworkOffering.uuid == uuid, offered_to(ctx.caller, NetworkOffering.domain_id)
        )
    )
    if offering is None:
        raise InvalidParameter(
            f"Unable to find network offering with id {uuid} (parameter networkofferingid)"
        )
    if offering.state != ENABLED:
        raise invalid(
            "networkofferingid",
            f"network offering {offering.name} is {offering.state}, not Enabled",
            value=uuid,
        )
    if offering.zone_id is not None and offering.zone_id != zone.id:
        raise invalid(
            "networkofferingid",
            f"network offering {offering.name} is not offered in zone {zone.name}",
            value=uuid,
        )
    return offering


@dataclass(frozen=True)
class NetworkOfferingFilters:
    """``listNetworkOfferings``' filters; ``None`` does not filter."""

    uuid: str | None = None
    name: str | None = None
    guest_ip_type: str | None = None
    traffic_type: str | None = None
    is_default: bool | None = None
    specify_vlan: bool | None = None
    specify_ip_ranges: bool | None = None
    for_vpc: bool | None = None
    state: str | None = None
    availability: str | None = None
    tags: str | None = None
    zone_uuid: str | None = None
    domain_uuid: str | None = None
    keyword: str | None = None


async def list_network_offerings(
    ctx: ServiceContext, filters: NetworkOfferingFilters, page: PageRequest
) -> Page[NetworkOffering]:
    """Offerings offered to the caller; only root admins see Disabled ones. An offering
    limited to no zone serves every zone (``zoneid`` keeps it)."""
    query = select(NetworkOffering).where(
        offered_to(ctx.caller, NetworkOffering.domain_id),
        equal_if_given(
            (NetworkOffering.uuid, filters.uuid),
            (NetworkOffering.name, filters.name),
            (NetworkOffering.is_default, filters.is_default),
            (NetworkOffering.specify_vlan, filters.specify_vlan),
            (NetworkOffering.specify_ip_ranges, filters.specify_ip_ranges),
            (NetworkOffering.for_vpc, filters.for_vpc),
            (NetworkOffering.state, filters.state),
            (NetworkOffering.tags, filters.tags),
        ),
        keyword_filter(filters.keyword, NetworkOffering.name, NetworkOffering.display_text),
    )
    for column, value in (
        (NetworkOffering.guest_ip_type, filters.guest_ip_type),
        (NetworkOffering.traffic_type, filters.traffic_type),
        (NetworkOffering.availability, filters.availability),
    ):
        if value is not None:
            query = query.where(func.lower(column) == value.lower())
    if filters.zone_uuid is not None:
        zone_id = await _zone_id(ctx, filters.zone_uuid)
        query = query.where(
            (NetworkOffering.zone_id.is_(None)) | (NetworkOffering.zone_id == zone_id)
        )
    if filters.domain_uuid is not None:
        query = query.where(NetworkOffering.domain_id == await _domain_id(ctx, filters.domain_uuid))
    if not ctx.caller.is_root_admin:
        query = query.where(NetworkOffering.state == ENABLED)
    return await paginate(ctx.session, query.order_by(NetworkOffering.id), page)
