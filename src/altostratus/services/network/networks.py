"""Guest networks, their address ranges and the NICs that take addresses from them.

A zone's shared guest network hands each NIC (and each ``associateIpAddress``) the
lowest free address of its range. Two transactions may pick the same address at once;
the unique key on ``ip_addresses (network_id, address)`` lets only one of them commit it,
and the other retries with the next address inside a SAVEPOINT, so its own transaction
(the deploy it belongs to) goes on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from sqlalchemy import ColumnElement, delete, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Caller, ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import IpAddress, Network, Nic, VirtualMachine, Zone
from altostratus.errors import (
    InvalidParameter,
    ResourceAllocationError,
    ResourceInUse,
    ResourceUnavailable,
    invalid,
)
from altostratus.services.network.offerings import usable_offering
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import find_by_uuid
from altostratus.services.shared.ownership import may_use

__all__ = [
    "NIC_PURPOSE",
    "AddressRange",
    "allocate_nic",
    "check_unused",
    "create_network",
    "default_network",
    "delete_network",
    "get_network",
    "list_networks",
    "list_nics",
    "nics_of",
    "release_nics",
    "take_address",
]

#: ``ip_addresses.purpose`` of a VM's guest address.
NIC_PURPOSE = "nic"
#: A MAC collision is a 1 in 2^40 event; a few retries are plenty.
_MAC_ATTEMPTS = 5


@dataclass(frozen=True)
class AddressRange:
    """A shared network's addressing, as ``createNetwork`` gives it (each well-formed)."""

    gateway: str
    netmask: str
    start_ip: str | None
    end_ip: str | None

    def checked(self) -> tuple[IPv4Network, IPv4Address, IPv4Address]:
        """The network and the range; 431 naming the parameter that does not fit.

        The range lies inside the network (not its network or broadcast address), starts
        no later than it ends and leaves out the gateway, as CloudStack requires. Without
        ``startip``/``endip`` it spans the usable addresses, less a gateway at either end.
        """
        cidr = IPv4Network(f"{self.gateway}/{self.netmask}", strict=False)
        first, last = cidr.network_address + 1, cidr.broadcast_address - 1
        gateway = IPv4Address(self.gateway)
        if not first <= gateway <= last:
            raise invalid("gateway", f"not a usable address of {cidr}", value=self.gateway)
        start = IPv4Address(self.start_ip) if self.start_ip else first + (gateway == first)
        end = IPv4Address(self.end_ip) if self.end_ip else last - (gateway == last)
        for name, address in (("startip", start), ("endip", end)):
            if not first <= address <= last:
                raise invalid(name, f"not a usable address of {cidr}", value=str(address))
        if start > end:
            raise invalid("endip", f"the range ends before its start {start}", value=str(end))
        if start <= gateway <= end:
            raise invalid("gateway", f"it lies inside the range {start}-{end}", value=self.gateway)
        return cidr, start, end


# --- networks ---


def _visible_networks(caller: Caller) -> ColumnElement[bool]:
    """Shared networks are everyone's; an isolated one only its account's (admins: all)."""
    if caller.is_root_admin:
        return true()
    return or_(Network.account_id.is_(None), Network.account_id == caller.account_id)


async def get_network(ctx: ServiceContext, network_uuid: str, parameter: str) -> Network:
    """A network the caller may use; unknown or not visible → 431 naming ``parameter``."""
    network = await ctx.session.scalar(
        select(Network).where(
            Network.uuid == network_uuid,
            Network.removed.is_(None),
            _visible_networks(ctx.caller),
        )
    )
    if network is None:
        raise InvalidParameter(
            f"Unable to find network with id {network_uuid} (parameter {parameter})"
        )
    return network


async def create_network(
    ctx: ServiceContext,
    *,
    zone_uuid: str,
    name: str,
    display_text: str | None,
    offering_uuid: str,
    addressing: AddressRange,
    vlan: str | None,
) -> Network:
    """A shared guest network from an Enabled Shared offering; the zone's first one
    becomes its default."""
    zone = await find_by_uuid(ctx, Zone, zone_uuid, "zoneid")
    offering = await usable_offering(ctx, offering_uuid, zone)
    if offering.guest_ip_type != "Shared":
        raise invalid(
            "networkofferingid", "only Shared network offerings are offered", value=offering_uuid
        )
    cidr, start, end = addressing.checked()
    clash = await ctx.session.scalar(
        select(Network.uuid).where(Network.zone_id == zone.id, Network.name == name)
    )
    if clash is not None:
        raise invalid(
            "name", f"zone {zone.name} already has a network of this name ({clash})", value=name
        )
    has_default = await ctx.session.scalar(
        select(func.count()).where(Network.zone_id == zone.id, Network.is_default.is_(True))
    )
    network = Network(
        name=name,
        display_text=display_text or name,
        zone=zone,
        network_offering=offering,
        guest_type="Shared",
        cidr=str(cidr),
        gateway=addressing.gateway,
        netmask=str(cidr.netmask),
        start_ip=str(start),
        end_ip=str(end),
        vlan=vlan,
        dns1=zone.dns1,
        dns2=zone.dns2,
        network_domain=zone.network_domain,
        is_default=not has_default,
    )
    ctx.session.add(network)
    await ctx.session.flush()
    await _record(ctx, "NETWORK.CREATE", "Created", network)
    return network


async def check_unused(session: AsyncSession, network: Network) -> None:
    """536 while a NIC or an address (a VM's or a public one) uses the network."""
    taken = await session.scalar(select(func.count()).where(IpAddress.network_id == network.id))
    nics = await session.scalar(select(func.count()).where(Nic.network_id == network.id))
    if taken or nics:
        raise ResourceInUse(
            f"Network {network.name} is in use: {nics} NIC(s) and {taken} address(es); "
            "release them before deleting it"
        )


async def delete_network(ctx: ServiceContext, network_uuid: str) -> None:
    """Only a network no NIC and no address uses goes (536 otherwise)."""
    network = await get_network(ctx, network_uuid, "id")
    await check_unused(ctx.session, network)
    await _record(ctx, "NETWORK.DELETE", "Deleted", network)
    await ctx.session.delete(network)


async def _record(ctx: ServiceContext, event_type: str, verb: str, network: Network) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} network {network.name} ({network.uuid}) in zone {network.zone.name}",
        resource_type="Network",
        resource_uuid=network.uuid,
    )


async def list_networks(
    ctx: ServiceContext,
    *,
    network_uuid: str | None,
    zone_uuid: str | None,
    guest_type: str | None,
    is_default: bool | None,
    keyword: str | None,
    page: PageRequest,
) -> Page[Network]:
    query = (
        select(Network)
        .join(Zone, Network.zone_id == Zone.id)
        .where(
            Network.removed.is_(None),
            _visible_networks(ctx.caller),
            equal_if_given(
                (Network.uuid, network_uuid),
                (Zone.uuid, zone_uuid),
                (Network.is_default, is_default),
            ),
            keyword_filter(keyword, Network.name, Network.display_text),
        )
    )
    if guest_type is not None:
        query = query.where(func.lower(Network.guest_type) == guest_type.lower())
    return await paginate(ctx.session, query.order_by(Network.id), page)


async def default_network(session: AsyncSession, zone_id: int) -> Network:
    """The zone's default shared guest network; 534 when the zone has none."""
    network = await session.scalar(
        select(Network)
        .where(Network.zone_id == zone_id, Network.removed.is_(None), Network.account_id.is_(None))
        .order_by(Network.is_default.desc(), Network.id)
        .limit(1)
    )
    if network is None:
        raise ResourceUnavailable(
            "The zone has no guest network to put the VM on; an administrator must create "
            "one with createNetwork"
        )
    return network


# --- addresses ---


def _candidates(network: Network, skip: set[str]) -> Iterator[str]:
    first, last = int(IPv4Address(network.start_ip)), int(IPv4Address(network.end_ip))
    for number in range(first, last + 1):
        address = str(IPv4Address(number))
        if address not in skip:
            yield address


async def take_address(
    session: AsyncSession,
    network: Network,
    *,
    purpose: str,
    account_id: int | None,
    domain_id: int | None,
    vm_id: int | None = None,
) -> IpAddress:
    """The lowest free address of ``network``'s range, inserted for ``purpose``.

    Safe under concurrency: an address another transaction committed first makes the
    insert fail inside its SAVEPOINT, and the next free address is tried. 535 when the
    range is exhausted.
    """
    taken = set(
        await session.scalars(select(IpAddress.address).where(IpAddress.network_id == network.id))
    )
    for address in _candidates(network, taken):
        row = IpAddress(
            network=network,
            zone_id=network.zone_id,
            address=address,
            purpose=purpose,
            account_id=account_id,
            domain_id=domain_id,
            vm_id=vm_id,
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # a concurrent transaction took it first
        return row
    raise ResourceAllocationError(
        f"No free address left in network {network.name} "
        f"(range {network.start_ip}-{network.end_ip})"
    )


# --- NICs ---


def _random_mac() -> str:
    """A locally administered unicast MAC (``02:…``), as hypervisors accept for guests."""
    return "02:" + ":".join(f"{byte:02x}" for byte in secrets.token_bytes(5))


async def allocate_nic(session: AsyncSession, vm: VirtualMachine, network: Network) -> Nic:
    """A NIC for ``vm`` (already flushed) on ``network``, with an address and a unique MAC.

    The VM's first NIC is its default one (device 0).
    """
    device = await session.scalar(select(func.count()).where(Nic.vm_id == vm.id)) or 0
    address = await take_address(
        session,
        network,
        purpose=NIC_PURPOSE,
        account_id=vm.account_id,
        domain_id=vm.domain_id,
        vm_id=vm.id,
    )
    for _attempt in range(_MAC_ATTEMPTS):
        nic = Nic(
            vm=vm,
            network=network,
            ip_address_id=address.id,
            ip_address=address.address,
            netmask=network.netmask,
            gateway=network.gateway,
            mac_address=_random_mac(),
            device_id=device,
            is_default=device == 0,
        )
        try:
            async with session.begin_nested():
                session.add(nic)
        except IntegrityError:
            continue
        return nic
    raise ResourceAllocationError(f"Could not find a free MAC address for VM {vm.uuid}")


async def release_nics(session: AsyncSession, vm_id: int) -> None:
    """Delete the VM's NICs and free their addresses (at expunge)."""
    await session.execute(delete(Nic).where(Nic.vm_id == vm_id))
    await session.execute(
        delete(IpAddress).where(IpAddress.vm_id == vm_id, IpAddress.purpose == NIC_PURPOSE)
    )


async def nics_of(session: AsyncSession, vm_ids: Sequence[int]) -> dict[int, list[Nic]]:
    """Each VM's NICs in device order; every id is a key, with ``[]`` for none."""
    found: dict[int, list[Nic]] = {vm_id: [] for vm_id in vm_ids}
    if not vm_ids:
        return found
    nics = await session.scalars(
        select(Nic)
        .where(Nic.vm_id.in_(vm_ids), Nic.removed.is_(None))
        .order_by(Nic.vm_id, Nic.device_id)
    )
    for nic in nics.unique():
        found[nic.vm_id].append(nic)
    return found


async def list_nics(
    ctx: ServiceContext,
    *,
    vm_uuid: str,
    nic_uuid: str | None,
    network_uuid: str | None,
    page: PageRequest,
) -> Page[Nic]:
    """The NICs of a VM the caller may see (431 for any other VM, as for an unknown one)."""
    vm = await ctx.session.scalar(
        select(VirtualMachine).where(
            VirtualMachine.uuid == vm_uuid, VirtualMachine.removed.is_(None)
        )
    )
    if vm is None or not await may_use(ctx, vm.account):
        raise InvalidParameter(
            f"Unable to find virtual machine with id {vm_uuid} (parameter virtualmachineid)"
        )
    query = (
        select(Nic)
        .join(Network, Nic.network_id == Network.id)
        .where(
            Nic.vm_id == vm.id,
            Nic.removed.is_(None),
            equal_if_given((Nic.uuid, nic_uuid), (Network.uuid, network_uuid)),
        )
    )
    return await paginate(ctx.session, query.order_by(Nic.device_id), page)
