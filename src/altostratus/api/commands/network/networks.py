"""Guest networks, NICs, public addresses and forwarding rules.

Networks are shared guest networks per zone, created by root admins; everyone lists
them and deploys into them. A public address is an address of such a network taken for
an account (``associateIpAddress``). No forwarding rule can be created at this level, so
the rule listings answer the empty list, after checking their filters.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from altostratus.api.address_params import Ipv4, Name, Netmask
from altostratus.api.commands.network.offerings import ServiceResponse, service_views
from altostratus.api.commands.shared.tags import TagResponse, tag_view
from altostratus.api.declarations import ADMIN, ANYONE, SUCCESS, CommandSet, Job, answer_success
from altostratus.api.ownership import OwnedListParams, OwnerParams, ProjectFilter
from altostratus.api.params import ListParams, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Submitted
from altostratus.core.context import ServiceContext
from altostratus.db.models import IpAddress, Network, Nic, ResourceTag
from altostratus.services.network import addresses, networks
from altostratus.services.network import jobs as network_jobs
from altostratus.services.shared.projects import ALL_PROJECTS, get_project
from altostratus.services.shared.tags import tags_of
from altostratus.timeutil import format_timestamp

__all__ = [
    "TAG_TYPE",
    "AssociateIpAddressParams",
    "CreateNetworkParams",
    "DeleteNetworkParams",
    "DisassociateIpAddressParams",
    "ForwardingRuleResponse",
    "ListForwardingRulesParams",
    "ListNetworksParams",
    "ListNicsParams",
    "ListPublicIpAddressesParams",
    "NetworkResponse",
    "NicResponse",
    "PublicIpAddressResponse",
    "associate_ip_address",
    "commands",
    "create_network",
    "delete_network",
    "disassociate_ip_address",
    "list_ip_forwarding_rules",
    "list_networks",
    "list_nics",
    "list_port_forwarding_rules",
    "list_public_ip_addresses",
    "network_view",
    "nic_view",
    "public_ip_view",
]

commands = CommandSet()

#: The resource type of public addresses in tags (``createTags resourcetype=…``).
TAG_TYPE = "PublicIpAddress"


# --- networks ---


class NetworkResponse(ResponseObject):
    id: str
    name: str
    displaytext: str
    zoneid: str
    zonename: str
    type: str
    traffictype: str
    cidr: str
    gateway: str
    netmask: str
    state: str
    networkofferingid: str
    networkofferingname: str
    networkofferingdisplaytext: str
    isdefault: bool
    acltype: str = "Domain"
    dns1: str | None = None
    dns2: str | None = None
    networkdomain: str | None = None
    service: list[ServiceResponse]
    canusefordeploy: bool = True
    ispersistent: bool = False
    specifyipranges: bool
    broadcastdomaintype: str = "Vlan"
    issystem: bool = False
    restartrequired: bool = False
    vlan: str | None = None
    created: str


def network_view(network: Network, *, full: bool) -> NetworkResponse:
    """``full`` (root admins) adds the VLAN."""
    offering = network.network_offering
    return NetworkResponse(
        id=network.uuid,
        name=network.name,
        displaytext=network.display_text,
        zoneid=network.zone.uuid,
        zonename=network.zone.name,
        type=network.guest_type,
        traffictype=network.traffic_type,
        cidr=network.cidr,
        gateway=network.gateway,
        netmask=network.netmask,
        state=network.state,
        networkofferingid=offering.uuid,
        networkofferingname=offering.name,
        networkofferingdisplaytext=offering.display_text,
        isdefault=network.is_default,
        dns1=network.dns1,
        dns2=network.dns2,
        networkdomain=network.network_domain,
        service=service_views(offering),
        specifyipranges=offering.specify_ip_ranges,
        vlan=network.vlan if full else None,
        created=format_timestamp(network.created),
    )


class CreateNetworkParams(Params):
    zoneid: Uuid = Field(description="The zone of the network")
    name: Name = Field(description="Name of the network; unique in its zone")
    displaytext: str | None = Field(
        None, max_length=4096, description="Description (default: name)"
    )
    networkofferingid: Uuid = Field(description="A Shared network offering")
    gateway: Ipv4 = Field(description="Gateway of the guest subnet; outside the address range")
    netmask: Netmask = Field(description="Netmask of the guest subnet")
    startip: Ipv4 | None = Field(
        None, description="First address handed out (default: the subnet's first usable)"
    )
    endip: Ipv4 | None = Field(
        None, description="Last address handed out (default: the subnet's last usable)"
    )
    vlan: str | None = Field(None, max_length=64, description="VLAN id of the network")


@commands.command(
    "createNetwork",
    CreateNetworkParams,
    description="Creates a shared guest network with an address range",
    allowed=ADMIN,
    response=("network", NetworkResponse),
    related=("listNetworks",),
)
async def create_network(ctx: ServiceContext, p: CreateNetworkParams) -> Single:
    network = await networks.create_network(
        ctx,
        zone_uuid=p.zoneid,
        name=p.name,
        display_text=p.displaytext,
        offering_uuid=p.networkofferingid,
        addressing=networks.AddressRange(p.gateway, p.netmask, p.startip, p.endip),
        vlan=p.vlan,
    )
    return Single("network", network_view(network, full=True))


class DeleteNetworkParams(Params):
    id: Uuid = Field(description="The network to delete")
    forced: bool = Field(False, description="Accepted; a network in use is never deleted")


@commands.command(
    "deleteNetwork",
    DeleteNetworkParams,
    description="Deletes a network no NIC and no address uses",
    allowed=ADMIN,
    response=SUCCESS,
    job=Job(network_jobs.DELETE_NETWORK, answer_success),
)
async def delete_network(ctx: ServiceContext, p: DeleteNetworkParams) -> Submitted:
    network = await networks.get_network(ctx, p.id, "id")
    await networks.check_unused(ctx.session, network)
    return Submitted(
        network_jobs.NetworkPayload(id=network.uuid),
        instance_type="Network",
        instance_uuid=network.uuid,
    )


class ListNetworksParams(ListParams):
    id: Uuid | None = Field(None, description="List the network of this id")
    zoneid: Uuid | None = Field(None, description="List the networks of this zone")
    type: str | None = Field(None, max_length=32, description="Shared or Isolated")
    isdefault: bool | None = Field(None, description="List only default (or non-default) ones")
    traffictype: str | None = Field(None, max_length=32, description="Accepted: all are Guest")
    canusefordeploy: bool | None = Field(None, description="Accepted: every network can")
    projectid: ProjectFilter | None = Field(
        None, description="The networks a project may use (the shared ones, as for members)"
    )


@commands.command(
    "listNetworks",
    ListNetworksParams,
    description="Lists the networks the caller may use",
    allowed=ANYONE,
    response=("network", NetworkResponse),
    writes=False,
)
async def list_networks(ctx: ServiceContext, p: ListNetworksParams) -> ListResult:
    if p.projectid is not None and p.projectid != ALL_PROJECTS:
        await get_project(ctx, p.projectid)
    page = await networks.list_networks(
        ctx,
        network_uuid=p.id,
        zone_uuid=p.zoneid,
        guest_type=p.type,
        is_default=p.isdefault,
        keyword=p.keyword,
        page=page_request(ctx, p),
    )
    full = ctx.caller.is_root_admin
    return ListResult("network", [network_view(n, full=full) for n in page.items], page.total)


# --- NICs ---


class NicResponse(ResponseObject):
    id: str
    networkid: str
    networkname: str
    netmask: str | None = None
    gateway: str | None = None
    ipaddress: str | None = None
    isdefault: bool
    macaddress: str
    deviceid: str
    traffictype: str
    type: str
    virtualmachineid: str


def nic_view(nic: Nic) -> NicResponse:
    return NicResponse(
        id=nic.uuid,
        networkid=nic.network.uuid,
        networkname=nic.network.name,
        netmask=nic.netmask,
        gateway=nic.gateway,
        ipaddress=nic.ip_address,
        isdefault=nic.is_default,
        macaddress=nic.mac_address,
        deviceid=str(nic.device_id),
        traffictype=nic.network.traffic_type,
        type=nic.network.guest_type,
        virtualmachineid=nic.vm.uuid,
    )


class ListNicsParams(ListParams):
    virtualmachineid: Uuid = Field(description="The VM whose NICs to list")
    nicid: Uuid | None = Field(None, description="List the NIC of this id")
    networkid: Uuid | None = Field(None, description="List the VM's NICs on this network")


@commands.command(
    "listNics",
    ListNicsParams,
    description="Lists the NICs of a VM",
    allowed=ANYONE,
    response=("nic", NicResponse),
    writes=False,
)
async def list_nics(ctx: ServiceContext, p: ListNicsParams) -> ListResult:
    page = await networks.list_nics(
        ctx,
        vm_uuid=p.virtualmachineid,
        nic_uuid=p.nicid,
        network_uuid=p.networkid,
        page=page_request(ctx, p),
    )
    return ListResult("nic", [nic_view(nic) for nic in page.items], page.total)


# --- public addresses ---


class PublicIpAddressResponse(ResponseObject):
    id: str
    ipaddress: str
    zoneid: str
    zonename: str
    state: str
    allocated: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    associatednetworkid: str
    associatednetworkname: str
    networkid: str
    issourcenat: bool
    isstaticnat: bool = False
    issystem: bool = False
    forvirtualnetwork: bool = False
    virtualmachineid: str | None = None
    tags: list[TagResponse]


def public_ip_view(address: IpAddress, tags: Sequence[ResourceTag] = ()) -> PublicIpAddressResponse:
    network = address.network
    return PublicIpAddressResponse(
        id=address.uuid,
        ipaddress=address.address,
        zoneid=network.zone.uuid,
        zonename=network.zone.name,
        state=address.state,
        allocated=format_timestamp(address.created),
        account=address.account.name if address.account else None,
        domainid=address.domain.uuid if address.domain else None,
        domain=address.domain.name if address.domain else None,
        associatednetworkid=network.uuid,
        associatednetworkname=network.name,
        networkid=network.uuid,
        issourcenat=address.is_source_nat,
        tags=[tag_view(tag) for tag in tags],
    )


async def _public_ip_views(
    ctx: ServiceContext, found: Sequence[IpAddress]
) -> list[PublicIpAddressResponse]:
    tags = await tags_of(ctx.session, TAG_TYPE, [address.uuid for address in found])
    return [public_ip_view(address, tags[address.uuid]) for address in found]


class ListPublicIpAddressesParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the address of this id")
    ipaddress: Ipv4 | None = Field(None, description="List this address")
    zoneid: Uuid | None = Field(None, description="List the addresses of this zone")
    associatednetworkid: Uuid | None = Field(None, description="List this network's addresses")
    allocatedonly: bool = Field(True, description="Accepted: only allocated addresses are listed")
    forvirtualnetwork: bool | None = Field(
        None, description="True lists isolated networks' addresses: none exist yet"
    )


@commands.command(
    "listPublicIpAddresses",
    ListPublicIpAddressesParams,
    description="Lists the public addresses of the caller's account (or those it manages)",
    allowed=ANYONE,
    response=("publicipaddress", PublicIpAddressResponse),
    writes=False,
)
async def list_public_ip_addresses(
    ctx: ServiceContext, p: ListPublicIpAddressesParams
) -> ListResult:
    page = await addresses.list_public_addresses(
        ctx,
        address_uuid=p.id,
        ip_address=p.ipaddress,
        zone_uuid=p.zoneid,
        network_uuid=p.associatednetworkid,
        for_virtual_network=p.forvirtualnetwork,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("publicipaddress", await _public_ip_views(ctx, page.items), page.total)


def _address_submitted(address: IpAddress) -> Submitted:
    return Submitted(
        network_jobs.AddressPayload(id=address.uuid),
        instance_type="IpAddress",
        instance_uuid=address.uuid,
    )


async def _address_answer(ctx: ServiceContext, address_uuid: str) -> Single:
    address = await addresses.get_public_address(ctx, address_uuid, "id")
    return Single("ipaddress", (await _public_ip_views(ctx, [address]))[0])


class AssociateIpAddressParams(OwnerParams):
    zoneid: Uuid | None = Field(None, description="Take the address from this zone's network")
    networkid: Uuid | None = Field(None, description="Take the address from this network")


@commands.command(
    "associateIpAddress",
    AssociateIpAddressParams,
    description="Takes a public address for the account from a shared network",
    allowed=ANYONE,
    response=("ipaddress", PublicIpAddressResponse),
    related=("listPublicIpAddresses",),
    job=Job(network_jobs.ASSOCIATE_ADDRESS, _address_answer),
)
async def associate_ip_address(ctx: ServiceContext, p: AssociateIpAddressParams) -> Submitted:
    address = await addresses.associate(
        ctx,
        zone_uuid=p.zoneid,
        network_uuid=p.networkid,
        account=p.account,
        domain_uuid=p.domainid,
        project_uuid=p.projectid,
    )
    return _address_submitted(address)


class DisassociateIpAddressParams(Params):
    id: Uuid = Field(description="The public address to release")


@commands.command(
    "disassociateIpAddress",
    DisassociateIpAddressParams,
    description="Gives a public address back to its network",
    allowed=ANYONE,
    response=SUCCESS,
    job=Job(network_jobs.DISASSOCIATE_ADDRESS, answer_success),
)
async def disassociate_ip_address(ctx: ServiceContext, p: DisassociateIpAddressParams) -> Submitted:
    return _address_submitted(await addresses.start_release(ctx, p.id))


# --- forwarding rules: none exist at this level ---


class ForwardingRuleResponse(ResponseObject):
    """A port forwarding or static NAT rule, as CloudStack answers one (none exist yet)."""

    id: str = Field(description="the id of the rule")
    ipaddressid: str = Field(description="the id of the public address of the rule")
    ipaddress: str = Field(description="the public address of the rule")
    protocol: str = Field(description="the protocol of the rule")
    privateport: str | None = Field(None, description="the first private port of the rule")
    privateendport: str | None = Field(None, description="the last private port of the rule")
    publicport: str | None = Field(None, description="the first public port of the rule")
    publicendport: str | None = Field(None, description="the last public port of the rule")
    virtualmachineid: str | None = Field(None, description="the id of the rule's VM")
    virtualmachinename: str | None = Field(None, description="the name of the rule's VM")
    state: str = Field(description="the state of the rule")


class ListForwardingRulesParams(OwnedListParams):
    id: Uuid | None = Field(None, description="List the rule of this id")
    ipaddressid: Uuid | None = Field(None, description="List the rules of this public address")
    networkid: Uuid | None = Field(None, description="List the rules of this network")
    virtualmachineid: Uuid | None = Field(None, description="List the rules of this VM")


async def _no_rules(ctx: ServiceContext, p: ListForwardingRulesParams, name: str) -> ListResult:
    await addresses.check_rule_filters(ctx, address_uuid=p.ipaddressid, network_uuid=p.networkid)
    return ListResult(name, [], 0)


@commands.command(
    "listPortForwardingRules",
    ListForwardingRulesParams,
    description="Lists port forwarding rules (none can be created yet)",
    allowed=ANYONE,
    response=("portforwardingrule", ForwardingRuleResponse),
    writes=False,
)
async def list_port_forwarding_rules(
    ctx: ServiceContext, p: ListForwardingRulesParams
) -> ListResult:
    return await _no_rules(ctx, p, "portforwardingrule")


@commands.command(
    "listIpForwardingRules",
    ListForwardingRulesParams,
    description="Lists static NAT (IP forwarding) rules (none can be created yet)",
    allowed=ANYONE,
    response=("ipforwardingrule", ForwardingRuleResponse),
    writes=False,
)
async def list_ip_forwarding_rules(ctx: ServiceContext, p: ListForwardingRulesParams) -> ListResult:
    return await _no_rules(ctx, p, "ipforwardingrule")
