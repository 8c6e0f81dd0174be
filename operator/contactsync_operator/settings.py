"""Operator configuration, from the environment (the Helm chart sets it) or flags."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contactsync_api.spec import RegionSpec
from contactsync_operator.default_egress import DefaultPolicyError, parse_default_policy


class SettingsError(ValueError):
    """The operator's configuration is unusable; the message names the variable."""


@dataclass(frozen=True)
class TemporalConnection:
    """How to reach a Temporal frontend. Files, not values: they come from mounted Secrets."""

    address: str = "localhost:7233"
    namespace: str = "default"
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    api_key_file: Path | None = None
    plaintext: bool = False  # chosen explicitly: no TLS, no API key (development only)

    @property
    def uses_tls(self) -> bool:
        return any((self.tls_cert_file, self.tls_ca_file, self.api_key_file))


@dataclass(frozen=True)
class OperatorSettings:
    temporal: TemporalConnection = field(default_factory=TemporalConnection)
    worker_image: str = "ghcr.io/contactsync/contactsync:0.1.0"
    # Temporal address as the worker pods must dial it (may differ from the operator's view).
    worker_temporal_address: str | None = None
    worker_temporal_tls_secret: str | None = None
    region_label: str = "topology.kubernetes.io/region"
    zone_label: str = "topology.kubernetes.io/zone"
    # Regions this operator deploys; empty means all. Others are reported as served elsewhere.
    served_regions: frozenset[str] = frozenset()
    # Namespaces to watch; empty means the whole cluster.
    namespaces: tuple[str, ...] = ()
    resync_seconds: float = 60.0
    # How many times deletion retries against an unreachable Temporal before it says so loudly.
    cleanup_attempts_before_degraded: int = 5
    egress_ports: tuple[int, ...] = ()  # extra TCP ports workers may dial (e.g. PostgreSQL)
    # NetworkPolicy peers of the operator's Temporal frontend, as workers reach it; empty: any.
    worker_temporal_peers: tuple[dict[str, Any], ...] = ()
    metrics_port: int = 9090  # 8080 is the liveness probe's
    # The volume a region's single worker keeps its SQLite state on (no PostgreSQL store).
    state_volume_size: str = "1Gi"
    state_storage_class: str | None = None  # None: the cluster's default StorageClass
    # The ContactSyncEgressPolicy to create at start when none of its name exists (the chart's).
    default_egress_policy: dict[str, Any] | None = None

    def serves(self, region: str) -> bool:
        return not self.served_regions or region in self.served_regions

    def temporal_namespace(self, region: RegionSpec) -> str:
        """The Temporal namespace a region's schedules and workflows live in."""
        return (region.temporal.namespace if region.temporal else None) or self.temporal.namespace

    @property
    def worker_temporal(self) -> str:
        return self.worker_temporal_address or self.temporal.address


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise SettingsError(f"{name}={value}: no such file")
    return path


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name) or default)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {env.get(name)!r}") from exc


def _peers(env: Mapping[str, str], name: str) -> tuple[dict[str, Any], ...]:
    """A JSON list of NetworkPolicy peers; the API server checks each when it is applied."""
    try:
        peers = json.loads(env.get(name) or "[]")
    except ValueError as exc:
        raise SettingsError(f"{name} is not JSON: {exc}") from exc
    if not isinstance(peers, list) or not all(isinstance(p, dict) for p in peers):
        raise SettingsError(f"{name} must be a JSON list of NetworkPolicy peers (objects)")
    return tuple(peers)


def _default_policy(raw: str | None) -> dict[str, Any] | None:
    try:
        return parse_default_policy(raw)
    except DefaultPolicyError as exc:
        raise SettingsError(str(exc)) from exc


def watched_namespaces(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """CONTACTSYNC_WATCH_NAMESPACES; empty: the whole cluster."""
    return _split((os.environ if env is None else env).get("CONTACTSYNC_WATCH_NAMESPACES"))


def settings_from_env(env: Mapping[str, str] | None = None) -> OperatorSettings:
    env = os.environ if env is None else env
    temporal = TemporalConnection(
        address=env.get("TEMPORAL_ADDRESS", "localhost:7233"),
        namespace=env.get("TEMPORAL_NAMESPACE", "default"),
        tls_cert_file=_path(env, "TEMPORAL_TLS_CERT_FILE"),
        tls_key_file=_path(env, "TEMPORAL_TLS_KEY_FILE"),
        tls_ca_file=_path(env, "TEMPORAL_TLS_CA_FILE"),
        api_key_file=_path(env, "TEMPORAL_API_KEY_FILE"),
        plaintext=(env.get("TEMPORAL_PLAINTEXT") or "").lower() == "true",
    )
    if bool(temporal.tls_cert_file) != bool(temporal.tls_key_file):
        raise SettingsError("TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together")
    if not temporal.uses_tls and not temporal.plaintext:
        raise SettingsError(
            "no TLS and no API key for Temporal: set TEMPORAL_TLS_CA_FILE (with "
            "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE for mutual TLS) or "
            "TEMPORAL_API_KEY_FILE, or TEMPORAL_PLAINTEXT=true to connect in plain text "
            "(development only)"
        )
    ports = []
    for port in _split(env.get("CONTACTSYNC_WORKER_EGRESS_PORTS")):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"CONTACTSYNC_WORKER_EGRESS_PORTS: {port!r} is not a TCP port")
        ports.append(int(port))
    return OperatorSettings(
        temporal=temporal,
        worker_image=env.get("CONTACTSYNC_WORKER_IMAGE", OperatorSettings.worker_image),
        worker_temporal_address=env.get("CONTACTSYNC_WORKER_TEMPORAL_ADDRESS") or None,
        worker_temporal_tls_secret=env.get("CONTACTSYNC_WORKER_TEMPORAL_TLS_SECRET") or None,
        region_label=env.get("CONTACTSYNC_REGION_LABEL", OperatorSettings.region_label),
        served_regions=frozenset(_split(env.get("CONTACTSYNC_SERVED_REGIONS"))),
        namespaces=watched_namespaces(env),
        resync_seconds=_number(env, "CONTACTSYNC_RESYNC_SECONDS", OperatorSettings.resync_seconds),
        egress_ports=tuple(ports),
        worker_temporal_peers=_peers(env, "CONTACTSYNC_WORKER_TEMPORAL_PEERS"),
        default_egress_policy=_default_policy(env.get("CONTACTSYNC_DEFAULT_EGRESS_POLICY")),
        metrics_port=int(_number(env, "CONTACTSYNC_METRICS_PORT", OperatorSettings.metrics_port)),
        state_volume_size=env.get("CONTACTSYNC_STATE_VOLUME_SIZE")
        or OperatorSettings.state_volume_size,
        state_storage_class=env.get("CONTACTSYNC_STATE_STORAGE_CLASS") or None,
    )
