"""Where a region's workers may connect: the part of the platform's egress policies the
operator hands each region (``RegionConfig.egress``), and the CIDR rule it is made of.

Platform admins write ContactSyncEgressPolicies (contactsync_api.egress_policy); the
operator merges the ones that select a ContactSync's namespace into a ``RegionEgress``, renders
its NetworkPolicy peers from it and mounts it into the workers, which check every resolved
address against it before they connect (contactsync_worker.egress).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, StringConstraints

from contactsync_api.rules import Rule, RuledModel
from contactsync_api.values import SpecModel

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata answers here, with credentials no sync should ever reach:
# 169.254.169.254 and the like, IPv6 link-local, and AWS's IPv6 endpoint outside fe80::/10.
LINK_LOCAL: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
MAX_RULES = 64
MAX_EXCEPT = 32
MAX_PORTS = 32

# Digits after the slash without a leading zero, no zone, no netmask notation: what Go's
# netip.ParsePrefix (behind CEL's isCIDR) accepts, so the model and the API server agree.
_CIDR_SHAPE = re.compile(r"^[0-9A-Fa-f:.]+/(0|[1-9][0-9]{0,2})$")
_CIDR_HINT = "such as 10.0.0.0/8 or 2001:db8::/32, with no bits set beyond the prefix length"

# CEL (Kubernetes' CIDR library) for "the string {0} is a CIDR block without host bits".
CEL_IS_CIDR = "isCIDR({0}) && cidr({0}) == cidr({0}).masked()"

CidrText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Port = Annotated[int, Field(ge=1, le=65535)]


def parse_cidr(value: str) -> IPNetwork | None:
    """The network ``value`` names, or None unless it is a CIDR block the API server would take
    too: address bits beyond the prefix zero, no IPv4-mapped IPv6 address."""
    if not _CIDR_SHAPE.match(value):
        return None
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        return None
    return network


def _is_cidr(value: str) -> bool:
    return parse_cidr(value) is not None


def inside(inner: IPNetwork, outer: IPNetwork) -> bool:
    """Whether ``inner`` lies in ``outer`` (networks of different families never do)."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _excepts_inside(rule: EgressRule) -> bool:
    outer = parse_cidr(rule.cidr)
    if outer is None:
        return True  # the cidr rule reports it
    for text in rule.except_:
        inner = parse_cidr(text)
        if inner is None:
            continue  # the except rule reports it
        if not inside(inner, outer) or inner.prefixlen <= outer.prefixlen:
            return False
    return True


def is_link_local(network: IPNetwork) -> bool:
    """Whether ``network`` lies inside the link-local and metadata ranges."""
    return any(inside(network, link) for link in LINK_LOCAL)


class EgressRule(RuledModel, SpecModel):
    """Addresses workers may dial: a CIDR block, less the blocks in except, on some ports."""

    rules = (
        Rule(
            cel=CEL_IS_CIDR.format("self.cidr"),
            message=f"cidr must be a CIDR block {_CIDR_HINT}",
            holds=lambda m: _is_cidr(m.cidr),
            field_path=".cidr",
        ),
        Rule(
            cel=f"self.except.all(e, {CEL_IS_CIDR.format('e')})",
            message=f"except must list CIDR blocks {_CIDR_HINT}",
            holds=lambda m: all(_is_cidr(e) for e in m.except_),
            field_path=".except",
        ),
        Rule(
            # As NetworkPolicy ipBlock.except demands: strictly inside cidr.
            cel=(
                f"!({CEL_IS_CIDR.format('self.cidr')}) || self.except.all(e, "
                f"!({CEL_IS_CIDR.format('e')}) || (cidr(self.cidr).containsCIDR(e) "
                "&& cidr(e).prefixLength() > cidr(self.cidr).prefixLength()))"
            ),
            message="except must list blocks strictly inside cidr (longer prefixes)",
            holds=_excepts_inside,
            field_path=".except",
        ),
    )

    cidr: CidrText = Field(
        description=(
            "Addresses workers may connect to, in CIDR notation: 203.0.113.0/24, 10.1.2.3/32, "
            "2001:db8::/32, 0.0.0.0/0 for every IPv4 address."
        )
    )
    except_: Annotated[list[CidrText], Field(max_length=MAX_EXCEPT)] = Field(
        default=[],
        alias="except",
        description="Blocks inside cidr that stay out of reach, e.g. 10.0.0.0/8 in 0.0.0.0/0.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    ports: Annotated[list[Port], Field(min_length=1, max_length=MAX_PORTS)] | None = Field(
        default=None,
        description=(
            "TCP ports this block may be reached on. Default: the ports the region's sources, "
            "destinations and databases name."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    def allows(self, address: IPAddress, port: int) -> bool:
        network = ipaddress.ip_network(self.cidr)
        if address.version != network.version or address not in network:
            return False
        if any(address in ipaddress.ip_network(e) for e in self.except_):
            return False
        return self.ports is None or port in self.ports


class RegionEgress(SpecModel):
    """What the platform's egress policies let one region's workers reach. An address is
    reachable when a rule allows it; link-local and metadata addresses only with
    allowLinkLocal besides."""

    policies: list[str] = Field(
        description="Names of the ContactSyncEgressPolicies this is made of (empty: none).",
    )
    allow: list[EgressRule] = Field(default=[], description="Blocks workers may connect to.")
    allow_link_local: bool = Field(
        default=False,
        description="Link-local and instance-metadata addresses may be reached (when allowed).",
    )
