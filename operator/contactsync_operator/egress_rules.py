"""The egress rules of a region's worker NetworkPolicy, with peers from its egress policy (pure).

- DNS: UDP and TCP 53 to any peer. The cluster's resolver runs wherever the platform put it
  (a Service, a node-local cache), and workers must resolve names before the checks below.
- The operator's Temporal frontend (when the region names none of its own): its port, to the
  peers the platform configured (``worker.temporalPeers`` in the chart), else to any peer.
  The platform chose that address, not the manifest.
- Everything else the workers dial (sources, destinations, databases, a frontend the region
  names, the platform's extra ports): those ports, to the ipBlocks of the policy's rules; a rule
  that names ports of its own gets a rule of its own with just those.

Beware the NetworkPolicy defaults: a rule without ``to`` reaches every peer and one without
``ports`` every port. So a rule is left out, never emptied, when it has no peers or no ports.
Without an observed policy (``egress`` None) the endpoint ports go to any peer, as before
egress policies existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contactsync_api.egress import EgressRule, RegionEgress

Manifest = dict[str, Any]
DNS_PORT = 53


def _tcp(ports: Sequence[int]) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]


def ip_block(rule: EgressRule) -> Manifest:
    block: Manifest = {"cidr": rule.cidr}
    if rule.except_:
        block["except"] = list(rule.except_)
    return {"ipBlock": block}


def egress_rules(
    egress: RegionEgress | None,
    endpoint_ports: Sequence[int],
    temporal_port: int | None,
    temporal_peers: Sequence[Manifest] = (),
) -> list[Manifest]:
    """``temporal_port``: the operator's frontend, None when the region names its own (whose
    port is then among ``endpoint_ports``)."""
    dns = {"ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}
    if egress is None:
        everything = [*endpoint_ports, *([temporal_port] if temporal_port else [])]
        return [dns, {"ports": _tcp(everything)}] if everything else [dns]
    rules: list[Manifest] = [dns]
    if temporal_port is not None:
        temporal: Manifest = {"ports": _tcp([temporal_port])}
        if temporal_peers:
            temporal["to"] = [dict(peer) for peer in temporal_peers]
        rules.append(temporal)
    shared = [ip_block(rule) for rule in egress.allow if rule.ports is None]
    if shared and endpoint_ports:
        rules.append({"to": shared, "ports": _tcp(endpoint_ports)})
    for rule in egress.allow:
        if rule.ports is not None:
            rules.append({"to": [ip_block(rule)], "ports": _tcp(rule.ports)})
    return rules
