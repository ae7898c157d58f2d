"""Network offerings: root admins create, update (``state`` Enabled/Disabled) and delete
them; everyone lists the ones offered to them (``services.network.offerings``).

Ansible's ``cs_network_offering`` finds an offering by ``name``, creates it with
``supportedservices`` and ``serviceproviderlist[i].service/provider`` (sending its own
``state`` too, which CloudStack ignores), then compares ``state``, ``displaytext``,
``name``, ``availability``, ``maxconnections`` and ``tags`` of the answer with what it
wants and calls ``updateNetworkOffering`` only when one differs. Libcloud reads
``forvpc`` and ``serviceofferingid`` unconditionally.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Annotated

from pydantic import AfterValidator, Field

from altostratus.api.address_params import Name
from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet
from altostratus.api.params import (
    ApiType,
    CommaList,
    DeleteParams,
    ListParams,
    MapParam,
    Params,
    Uuid,
    page_request,
)
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import NetworkOffering
from altostratus.errors import invalid
from altostratus.services.network import offerings
from altostratus.services.network.offerings import (
    NetworkOfferingChange,
    NetworkOfferingFilters,
    NetworkOfferingSpec,
)
from altostratus.timeutil import format_timestamp

__all__ = [
    "CreateNetworkOfferingParams",
    "ListNetworkOfferingsParams",
    "NetworkOfferingResponse",
    "ProviderResponse",
    "ServiceResponse",
    "UpdateNetworkOfferingParams",
    "commands",
    "create_network_offering",
    "delete_network_offering",
    "list_network_offerings",
    "network_offering_view",
    "service_views",
    "update_network_offering",
]

commands = CommandSet()


class ProviderResponse(ResponseObject):
    """The provider of a network service (``VirtualRouter``, …)."""

    name: str


class ServiceResponse(ResponseObject):
    """A network service (``Dhcp``, ``Dns``, …) an offering or network provides."""

    name: str
    provider: list[ProviderResponse]


def service_views(offering: NetworkOffering) -> list[ServiceResponse]:
    return [
        ServiceResponse(name=given.service, provider=[ProviderResponse(name=given.provider)])
        for given in offerings.provisions(offering)
    ]


class NetworkOfferingResponse(ResponseObject):
    id: str
    name: str
    displaytext: str
    guestiptype: str
    traffictype: str
    isdefault: bool
    state: str
    specifyipranges: bool
    specifyvlan: bool
    conservemode: bool
    egressdefaultpolicy: bool
    forvpc: bool
    ispersistent: bool
    availability: str
    networkrate: int | None = None
    maxconnections: int | None = None
    tags: str | None = None
    #: The virtual routers' system offering; "" for none (Libcloud reads the key
    #: unconditionally).
    serviceofferingid: str = ""
    service: list[ServiceResponse]
    domainid: str | None = None
    domain: str | None = None
    zoneid: str | None = None
    zone: str | None = None
    created: str


def network_offering_view(offering: NetworkOffering) -> NetworkOfferingResponse:
    return NetworkOfferingResponse(
        id=offering.uuid,
        name=offering.name,
        displaytext=offering.display_text,
        guestiptype=offering.guest_ip_type,
        traffictype=offering.traffic_type,
        isdefault=offering.is_default,
        state=offering.state,
        specifyipranges=offering.specify_ip_ranges,
        specifyvlan=offering.specify_vlan,
        conservemode=offering.conserve_mode,
        egressdefaultpolicy=offering.egress_default_policy,
        forvpc=offering.for_vpc,
        ispersistent=offering.is_persistent,
        availability=offering.availability,
        networkrate=offering.network_rate,
        maxconnections=offering.max_connections,
        tags=offering.tags,
        serviceofferingid=offering.service_offering.uuid if offering.service_offering else "",
        service=service_views(offering),
        domainid=offering.domain.uuid if offering.domain else None,
        domain=offering.domain.name if offering.domain else None,
        zoneid=offering.zone.uuid if offering.zone else None,
        zone=offering.zone.name if offering.zone else None,
        created=format_timestamp(offering.created),
    )


Tags = Annotated[str, Field(max_length=4096)]
Count = Annotated[int, Field(ge=1, le=1 << 30)]


class CreateNetworkOfferingParams(Params):
    name: Name = Field(description="Name of the offering; unique")
    displaytext: str | None = Field(
        None, max_length=4096, description="Text users see (default: the name)"
    )
    guestiptype: str = Field(max_length=32, description="Shared, Isolated or L2")
    traffictype: str = Field(max_length=32, description="Guest (the only one supported)")
    supportedservices: CommaList | None = Field(
        None, description="The services networks of it provide (Dhcp, Dns, UserData, …)"
    )
    serviceproviderlist: MapParam | None = Field(
        None,
        description="serviceproviderlist[i].service and .provider: the provider of a "
        "supported service (default: VirtualRouter; SecurityGroupProvider for SecurityGroup)",
    )
    specifyvlan: bool = Field(False, description="Networks of it are given a VLAN")
    specifyipranges: bool = Field(False, description="Networks of it are given address ranges")
    availability: str = Field(
        "Optional", max_length=16, description="Optional, or Required (the default offering)"
    )
    conservemode: bool = Field(True, description="IP conserve mode")
    egressdefaultpolicy: bool = Field(
        True, description="Guest traffic out is allowed (true) or denied (false) by default"
    )
    ispersistent: bool = Field(False, description="Networks of it are persistent")
    forvpc: bool = Field(False, description="For VPC tiers only")
    networkrate: Count | None = Field(None, description="Data rate allowed, in Mbit/s")
    maxconnections: Count | None = Field(
        None, description="Most concurrent connections its load balancer takes"
    )
    tags: Tags | None = Field(None, description="Tags of the offering")
    domainid: Uuid | None = Field(None, description="Offer it to this domain's subtree only")
    zoneid: Uuid | None = Field(None, description="Offer it in this zone only")
    enable: bool = Field(False, description="Enabled at once (default: Disabled)")
    serviceofferingid: Uuid | None = Field(
        None, description="The system offering (systemvmtype=domainrouter) of its routers"
    )


def _providers(entries: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for entry in entries or []:
        if "service" not in entry or "provider" not in entry:
            raise invalid(
                "serviceproviderlist", "each entry needs a service and a provider", value=entry
            )
        pairs.append((entry["service"], entry["provider"]))
    return tuple(pairs)


@commands.command(
    "createNetworkOffering",
    CreateNetworkOfferingParams,
    description="Creates a network offering (Disabled unless enable=true)",
    allowed=ADMIN,
    response=("networkoffering", NetworkOfferingResponse),
    related=("listNetworkOfferings",),
)
async def create_network_offering(ctx: ServiceContext, p: CreateNetworkOfferingParams) -> Single:
    offering = await offerings.create_network_offering(
        ctx,
        NetworkOfferingSpec(
            name=p.name,
            display_text=p.displaytext or p.name,
            guest_ip_type=p.guestiptype,
            traffic_type=p.traffictype,
            services=tuple(p.supportedservices or ()),
            providers=_providers(p.serviceproviderlist),
            specify_vlan=p.specifyvlan,
            specify_ip_ranges=p.specifyipranges,
            availability=p.availability,
            conserve_mode=p.conservemode,
            egress_default_policy=p.egressdefaultpolicy,
            is_persistent=p.ispersistent,
            for_vpc=p.forvpc,
            network_rate=p.networkrate,
            max_connections=p.maxconnections,
            tags=p.tags,
            enable=p.enable,
            router_offering_uuid=p.serviceofferingid,
        ),
        domain_uuid=p.domainid,
        zone_uuid=p.zoneid,
    )
    return Single("networkoffering", network_offering_view(offering))


def _uuid_or(word: str) -> AfterValidator:
    """A UUID, or ``word`` (``public``, ``all``) in any case."""

    def check(value: str) -> str:
        if value.strip().lower() == word:
            return word
        try:
            return str(uuid_module.UUID(value.strip()))
        except ValueError:
            raise ValueError(f"not a UUID nor {word}") from None

    return AfterValidator(check)


class UpdateNetworkOfferingParams(Params):
    id: Uuid = Field(description="The offering to update")
    name: Name | None = Field(None, description="New name; unique")
    displaytext: str | None = Field(None, max_length=4096, description="New display text")
    state: str | None = Field(None, max_length=32, description="Enabled or Disabled")
    availability: str | None = Field(None, max_length=16, description="Optional or Required")
    maxconnections: Count | None = Field(None, description="Most concurrent connections")
    tags: Tags | None = Field(None, description="New tags")
    domainid: Annotated[str, ApiType("string"), _uuid_or(offerings.PUBLIC)] | None = Field(
        None, description="Offer it to this domain's subtree only, or public for every domain"
    )
    zoneid: Annotated[str, ApiType("string"), _uuid_or(offerings.ALL_ZONES)] | None = Field(
        None, description="Offer it in this zone only, or all for every zone"
    )


@commands.command(
    "updateNetworkOffering",
    UpdateNetworkOfferingParams,
    description="Renames, enables or disables, or re-scopes a network offering",
    allowed=ADMIN,
    response=("networkoffering", NetworkOfferingResponse),
    related=("listNetworkOfferings",),
)
async def update_network_offering(ctx: ServiceContext, p: UpdateNetworkOfferingParams) -> Single:
    offering = await offerings.update_network_offering(
        ctx,
        p.id,
        NetworkOfferingChange(
            name=p.name,
            display_text=p.displaytext,
            state=p.state,
            availability=p.availability,
            max_connections=p.maxconnections,
            tags=p.tags,
            domain=p.domainid,
            zone=p.zoneid,
        ),
    )
    return Single("networkoffering", network_offering_view(offering))


@commands.command(
    "deleteNetworkOffering",
    DeleteParams,
    description="Deletes a network offering no network uses",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_network_offering(ctx: ServiceContext, p: DeleteParams) -> Success:
    await offerings.delete_network_offering(ctx, p.id)
    return Success()


class ListNetworkOfferingsParams(ListParams):
    id: Uuid | None = Field(None, description="List the offering of this id")
    name: str | None = Field(None, max_length=255, description="List the offering of this name")
    guestiptype: str | None = Field(None, max_length=32, description="Shared, Isolated or L2")
    traffictype: str | None = Field(None, max_length=32, description="List Guest offerings")
    isdefault: bool | None = Field(None, description="List only default (or non-default) ones")
    specifyvlan: bool | None = Field(None, description="Offerings whose networks take a VLAN")
    specifyipranges: bool | None = Field(
        None, description="Offerings whose networks take address ranges"
    )
    forvpc: bool | None = Field(None, description="Offerings for VPC tiers (or not)")
    state: str | None = Field(None, max_length=32, description="Enabled or Disabled")
    availability: str | None = Field(None, max_length=16, description="Optional or Required")
    tags: str | None = Field(None, max_length=4096, description="Offerings of these tags")
    zoneid: Uuid | None = Field(None, description="Offerings usable in this zone")
    domainid: Uuid | None = Field(None, description="Offerings limited to this domain")


@commands.command(
    "listNetworkOfferings",
    ListNetworkOfferingsParams,
    description="Lists the network offerings offered to the caller",
    allowed=ANYONE,
    response=("networkoffering", NetworkOfferingResponse),
    writes=False,
)
async def list_network_offerings(ctx: ServiceContext, p: ListNetworkOfferingsParams) -> ListResult:
    page = await offerings.list_network_offerings(
        ctx,
        NetworkOfferingFilters(
            uuid=p.id,
            name=p.name,
            guest_ip_type=p.guestiptype,
            traffic_type=p.traffictype,
            is_default=p.isdefault,
            specify_vlan=p.specifyvlan,
            specify_ip_ranges=p.specifyipranges,
            for_vpc=p.forvpc,
            state=p.state,
            availability=p.availability,
            tags=p.tags,
            zone_uuid=p.zoneid,
            domain_uuid=p.domainid,
            keyword=p.keyword,
        ),
        page_request(ctx, p),
    )
    return ListResult("networkoffering", [network_offering_view(o) for o in page.items], page.total)
