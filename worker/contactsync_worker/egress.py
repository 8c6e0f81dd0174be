"""May a worker connect to this address? The decision the transport makes for every host it
resolves, before it connects (contactsync_worker.transport.check_egress).

Two rules. Link-local and instance-metadata addresses are refused unless the region's egress
policy sets allowLinkLocal: metadata services hand out the node's cloud credentials. And when
the region has an egress policy (``RegionConfig.egress``, from the platform's
ContactSyncEgressPolicies), the address must lie in one of its allowed blocks, on an allowed
port. Without a policy (local mode, tests that run workers directly) any other address is fine.

Messages name the host, the address and the policies, never anything read from a server.
"""

from __future__ import annotations

import ipaddress

from contactsync_api.egress import LINK_LOCAL, IPAddress, RegionEgress


def unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:169.254.169.254`` is 169.254.169.254 to a dual-stack socket: judge it as such."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_link_local(address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in LINK_LOCAL)


def _policies(egress: RegionEgress) -> str:
    return "ContactSyncEgressPolicy " + ", ".join(egress.policies)


def refusal(host: str, address: str, port: int, egress: RegionEgress | None) -> str | None:
    """Why connecting to ``address`` (which ``host`` resolved to) on ``port`` is refused, or
    None when it is allowed."""
    ip = unmapped(ipaddress.ip_address(address.split("%", 1)[0]))
    if is_link_local(ip) and not (egress and egress.allow_link_local):
        why = f"{host} is a link-local address (instance metadata and the like): refused"
        if egress is not None and egress.policies:
            why += f" ({_policies(egress)} does not set allowLinkLocal)"
        return why
    if egress is None or any(rule.allows(ip, port) for rule in egress.allow):
        return None
    target = f"egress to {host if host == str(ip) else f'{host} ({ip})'} port {port} refused"
    if not egress.policies:
        return f"{target}: no ContactSyncEgressPolicy selects this namespace"
    return f"{target}: outside what {_policies(egress)} allows"
