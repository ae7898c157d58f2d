"""Public addresses: ``associateIpAddress``, ``disassociateIpAddress``, ``listPublicIpAddresses``.

At this level a public address is an address of a zone's shared guest network taken for an
account (``purpose`` ``public``), counted against its PUBLIC_IP limit. Nothing forwards
traffic to it yet: no port forwarding or static NAT rule exists, so the rule listings are
empty, but their filters are checked like CloudStack's.
"""

from __future__ import annotations

from sqlalchemy import false, select

from altostratus.core.context import ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import IpAddress, Network, Zone
from altostratus.errors import InvalidParameter, invalid
from altostratus.services.network.networks import default_network, get_network, take_address
from altostratus.services.shared import limits
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import OwnerScope, may_use, owned_rows, owner_account

__all__ = [
    "PUBLIC_PURPOSE",
    "associate",
    "check_rule_filters",
    "complete_association",
    "get_public_address",
    "list_public_addresses",
    "release",
    "start_release",
]

#: ``ip_addresses.purpose`` of an address taken with ``associateIpAddress``.
PUBLIC_PURPOSE = "public"
#: ``ip_addresses.state`` while associated, and on the way in and out (CloudStack's states).
ALLOCATING, ALLOCATED, RELEASING = "Allocating", "Allocated", "Releasing"


async def get_public_address(ctx: ServiceContext, address_uuid: str, parameter: str) -> IpAddress:
    """A public address the caller may manage; anything else is "not found" (431)."""
    address = await _find(ctx, address_uuid)
    if address is None or address.account is None or not await may_use(ctx, address.account):
        raise InvalidParameter(
            f"Unable to find ip address with id {address_uuid} (parameter {parameter})"
        )
    return address


async def associate(
    ctx: ServiceContext,
    *,
    zone_uuid: str | None,
    network_uuid: str | None,
    account: str | None,
    domain_uuid: str | None,
    project_uuid: str | None,
) -> IpAddress:
    """Take the lowest free address of the network (default: the zone's) for the owner.

    The address is ``Allocating`` until the job ``complete_association`` runs in marks it
    ``Allocated``, as in CloudStack. 532 when the owner is at its PUBLIC_IP limit; 535
    when the range is exhausted.
    """
    owner = await owner_account(ctx, account, domain_uuid, project_uuid)
    network = await _network_for(ctx, zone_uuid, network_uuid)
    await limits.check(ctx.session, owner.id, {limits.ResourceType.PUBLIC_IP: 1})
    address = await take_address(
        ctx.session,
        network,
        purpose=PUBLIC_PURPOSE,
        account_id=owner.id,
        domain_id=owner.domain_id,
    )
    address.state = ALLOCATING
    await ctx.session.flush()
    return address


async def complete_association(ctx: ServiceContext, address_uuid: str) -> None:
    address = await _find(ctx, address_uuid)
    if address is not None and address.state == ALLOCATING:
        address.state = ALLOCATED
        await _record(ctx, "NET.IPASSIGN", "Associated", address)


async def _network_for(
    ctx: ServiceContext, zone_uuid: str | None, network_uuid: str | None
) -> Network:
    if network_uuid is not None:
        network = await get_network(ctx, network_uuid, "networkid")
        if zone_uuid is not None and network.zone.uuid != zone_uuid:
            raise invalid(
                "networkid", f"the network is not in zone {zone_uuid}", value=network_uuid
            )
        return network
    if zone_uuid is None:
        raise InvalidParameter("Either zoneid or networkid must be given")
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    return await default_network(ctx.session, zone.id)


async def start_release(ctx: ServiceContext, address_uuid: str) -> IpAddress:
    """Mark a public address the caller manages ``Releasing``; ``release`` then frees it."""
    address = await get_public_address(ctx, address_uuid, "id")
    address.state = RELEASING
    await ctx.session.flush()
    return address


async def release(ctx: ServiceContext, address_uuid: str) -> None:
    """Give the address back to its network's range; already gone is done (idempotent)."""
    address = await _find(ctx, address_uuid)
    if address is not None:
        await _record(ctx, "NET.IPRELEASE", "Released", address)
        await ctx.session.delete(address)


async def _find(ctx: ServiceContext, address_uuid: str) -> IpAddress | None:
    found: IpAddress | None = await ctx.session.scalar(
        select(IpAddress).where(IpAddress.uuid == address_uuid, IpAddress.purpose == PUBLIC_PURPOSE)
    )
    return found


async def _record(ctx: ServiceContext, event_type: str, verb: str, address: IpAddress) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} address {address.address} ({address.uuid}) of network {address.network.name}",
        resource_type="IpAddress",
        resource_uuid=address.uuid,
        owner=address.account,
    )


async def list_public_addresses(
    ctx: ServiceContext,
    *,
    address_uuid: str | None,
    ip_address: str | None,
    zone_uuid: str | None,
    network_uuid: str | None,
    for_virtual_network: bool | None,
    keyword: str | None,
    scope: OwnerScope,
    page: PageRequest,
) -> Page[IpAddress]:
    """The caller's public addresses (``scope`` widens or narrows the accounts).

    They come from shared networks, so none is "for a virtual network" (an isolated
    network's source NAT): ``forvirtualnetwork=true`` lists nothing.
    """
    query = (
        (await owned_rows(ctx, IpAddress, scope, finding=address_uuid is not None))
        .join(Network, IpAddress.network_id == Network.id)
        .join(Zone, IpAddress.zone_id == Zone.id)
        .where(
            IpAddress.purpose == PUBLIC_PURPOSE,
            equal_if_given(
                (IpAddress.uuid, address_uuid),
                (IpAddress.address, ip_address),
                (Zone.uuid, zone_uuid),
                (Network.uuid, network_uuid),
            ),
            keyword_filter(keyword, IpAddress.address),
        )
    )
    if for_virtual_network:
        query = query.where(false())
    return await paginate(ctx.session, query.order_by(IpAddress.id), page)


async def check_rule_filters(
    ctx: ServiceContext, *, address_uuid: str | None, network_uuid: str | None
) -> None:
    """What listing forwarding rules checks: the named address and network must be visible."""
    if address_uuid is not None:
        await get_public_address(ctx, address_uuid, "ipaddressid")
    if network_uuid is not None:
        await get_network(ctx, network_uuid, "networkid")
