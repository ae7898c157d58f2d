"""Parameter types of addresses and names: well-formed here, related to each other in the
services (a pod's range inside its zone's network is the pods service's rule, not the
parameter's)."""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = ["GuestCidr", "Ipv4", "Ipv6", "Name", "Netmask", "NetworkDomain"]

_RFC1918 = tuple(IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_DOMAIN_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)


def _parsed(parse: Callable[[str], object], what: str) -> AfterValidator:
    """Validate with ``parse`` (an ``ipaddress`` constructor) and keep its canonical text."""

    def check(value: str) -> str:
        try:
            return str(parse(value))
        except ValueError:
            raise ValueError(f"not a valid {what}") from None

    return AfterValidator(check)


def _netmask(value: str) -> IPv4Address:
    return IPv4Network(f"0.0.0.0/{IPv4Address(value)}").netmask


def _private_network(value: str) -> IPv4Network:
    if "/" not in value:  # ipaddress would read a bare address as a /32
        raise ValueError(value)
    network = IPv4Network(value)
    if not any(network.subnet_of(private) for private in _RFC1918):
        raise ValueError(value)
    return network


def _domain_name(value: str) -> str:
    if not _DOMAIN_NAME.match(value):
        raise ValueError("not a valid DNS domain name")
    return value


Ipv4 = Annotated[str, _parsed(IPv4Address, "IPv4 address")]
Ipv6 = Annotated[str, _parsed(IPv6Address, "IPv6 address")]
Netmask = Annotated[str, _parsed(_netmask, "IPv4 netmask (such as 255.255.255.0)")]
GuestCidr = Annotated[
    str, _parsed(_private_network, "private IPv4 network (RFC 1918) such as 10.1.1.0/24")
]
NetworkDomain = Annotated[str, AfterValidator(_domain_name)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
