"""One region's working set: its configuration, state store, pseudonymizer and adapters.

Adapters are built on first use from the region config and the Secrets mounted in the
pod; credentials never pass through Temporal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contactsync_api.errors import ConfigurationError
from contactsync_api.spec import (
    CardDavSpec,
    ConsentMode,
    DestinationSpec,
    RegionConfig,
    SourceSpec,
)
from contactsync_worker import credentials, transport
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.destinations import DestinationAdapter
from contactsync_worker.pseudonym import Pseudonymizer
from contactsync_worker.sources import SourceAdapter
from contactsync_worker.store import StateStore


@dataclass
class RegionRuntime:
    config: RegionConfig
    store: StateStore
    pseudonyms: Pseudonymizer
    secrets_dir: Path
    checkpoint_key: bytes = b""  # signs audit checkpoints; empty: none are made
    # Verifies purge and erasure requests (base64 Ed25519); None: every one is refused.
    requests_public_key: str | None = None
    _sources: dict[str, SourceAdapter] = field(default_factory=dict)
    _destinations: dict[str, DestinationAdapter] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{self.config.contact_sync}/{self.config.region.name}"

    @property
    def source_order(self) -> list[str]:
        return [s.name for s in self.config.sources]

    @property
    def policy(self) -> FieldPolicy:
        consent = self.config.consent
        return FieldPolicy(
            allowed=frozenset(self.config.fields),
            consent_property=consent.property if consent.mode is ConsentMode.REQUIRED else None,
            identity=tuple(self.config.identity),
        )

    def feeds(self, destination: DestinationSpec) -> list[str]:
        """The sources a destination receives: those it names, else all of the region's."""
        return list(destination.sources) if destination.sources else self.source_order

    def source_spec(self, name: str) -> SourceSpec:
        for source in self.config.sources:
            if source.name == name:
                return source
        raise ConfigurationError(f"source {name!r} is not in this region's configuration")

    def source(self, name: str) -> SourceAdapter:
        if name not in self._sources:
            self._sources[name] = self._build_source(self.source_spec(name))
        return self._sources[name]

    def destination(self, name: str) -> DestinationAdapter:
        if name not in self._destinations:
            spec = next((d for d in self.config.destinations if d.name == name), None)
            if spec is None:
                raise ConfigurationError(
                    f"destination {name!r} is not in this region's configuration"
                )
            self._destinations[name] = self._build_destination(spec)
        return self._destinations[name]

    async def aclose(self) -> None:
        for source in self._sources.values():
            await source.aclose()
        for destination in self._destinations.values():
            await destination.aclose()
        self._sources.clear()
        self._destinations.clear()

    def _dav_parts(
        self, endpoint: CardDavSpec
    ) -> tuple[tuple[str, str] | None, Callable[[], httpx.AsyncClient]]:
        login = None
        if endpoint.credentials_secret_ref is not None:
            secret = credentials.username_password(
                endpoint.credentials_secret_ref.name, secrets_dir=self.secrets_dir
            )
            login = (secret.username, secret.password.reveal())
        bundle = credentials.ca_bundle_for(
            endpoint.ca_bundle_secret_ref, secrets_dir=self.secrets_dir
        )

        def client() -> httpx.AsyncClient:
            return transport.http_client(
                endpoint.url,
                allow_insecure=endpoint.allow_insecure,
                ca_bundle=bundle,
                egress=self.config.egress,
            )

        return login, client

    def _build_source(self, spec: SourceSpec) -> SourceAdapter:
        from contactsync_worker.sources.carddav import CardDavSource
        from contactsync_worker.sources.files import CsvSource, JsonLinesSource
        from contactsync_worker.sources.ldap import LdapSource

        if spec.carddav is not None:
            login, client = self._dav_parts(spec.carddav)
            return CardDavSource(
                spec.carddav.url, self.policy, name=spec.name, credentials=login, client=client
            )
        secrets, egress = self.secrets_dir, self.config.egress
        if spec.ldap is not None:
            return LdapSource(spec.name, spec.ldap, self.policy, secrets_dir=secrets, egress=egress)
        if spec.csv is not None:
            return CsvSource(spec.name, spec.csv, self.policy, secrets_dir=secrets, egress=egress)
        if spec.jsonl is not None:
            return JsonLinesSource(
                spec.name, spec.jsonl, self.policy, secrets_dir=secrets, egress=egress
            )
        raise ConfigurationError(f"source {spec.name!r} has no kind")

    def _build_destination(self, spec: DestinationSpec) -> DestinationAdapter:
        from contactsync_worker.destinations.carddav import CardDavDestination
        from contactsync_worker.destinations.postgres import PostgresDestination

        if spec.carddav is not None:
            login, client = self._dav_parts(spec.carddav)
            return CardDavDestination(
                spec.carddav.url, name=spec.name, credentials=login, client=client
            )
        if spec.postgres is not None:
            ref = spec.postgres.dsn_secret_ref
            dsn = credentials.read_secret(ref.name, ref.key, secrets_dir=self.secrets_dir)
            bundle = credentials.ca_bundle_for(
                spec.postgres.ca_bundle_secret_ref, secrets_dir=self.secrets_dir
            )
            return PostgresDestination(
                transport.postgres_conninfo(
                    dsn.reveal(), allow_insecure=spec.postgres.allow_insecure, ca_bundle=bundle
                ),
                table=spec.postgres.table,
                schema=spec.postgres.schema_name,
                egress=self.config.egress,
            )
        raise ConfigurationError(f"destination {spec.name!r} has no kind")
