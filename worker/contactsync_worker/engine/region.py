"""One region's working set: its configuration, state store, pseudonymizer and adapters.

Adapters are built on first use, by the kind each source or destination sets
(``contactsync_worker.adapters``), from the region config and the Secrets mounted in the
pod; credentials never pass through Temporal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from contactsync_api.errors import ConfigurationError
from contactsync_api.source_consent import source_consent
from contactsync_api.spec import (
    ConsentMode,
    ConsentSpec,
    DestinationSpec,
    RegionConfig,
    SourceSpec,
)
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.adapters import (
    AdapterNotFound,
    destination_adapter,
    source_adapter,
)
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.destinations import DestinationAdapter
from contactsync_worker.pseudonym import Pseudonymizer
from contactsync_worker.sources import SourceAdapter
from contactsync_worker.store import StateStore


@dataclass(frozen=True)
class SharedDeletions:
    """The run whose deletions the store counts, and what it deleted before its pages were
    split (the workflow's count)."""

    run: str
    before: int


@dataclass
class RegionRuntime:
    config: RegionConfig
    store: StateStore
    pseudonyms: Pseudonymizer
    secrets_dir: Path
    checkpoint_key: bytes = b""  # signs audit checkpoints; empty: none are made
    # Verifies purge and erasure requests (base64 Ed25519); None: every one is refused.
    requests_public_key: str | None = None
    # The key a rotation moves away from: suppressions made under it still match, and move
    # to the current key as syncs meet them (contactsync_worker.engine.suppression).
    previous_pseudonyms: Pseudonymizer | None = None
    # Set for a page working a listing at once with others: the mass-delete guard counts
    # the run's deletions in the store, which all of them share.
    shared_deletions: SharedDeletions | None = None
    _sources: dict[str, SourceAdapter] = field(default_factory=dict)
    _destinations: dict[str, DestinationAdapter] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{self.config.contact_sync}/{self.config.region.name}"

    @property
    def pseudonym_keys(self) -> tuple[Pseudonymizer, ...]:
        """The current key, then the previous one while a rotation may still need it."""
        previous = self.previous_pseudonyms
        if previous is None or previous.fingerprint == self.pseudonyms.fingerprint:
            return (self.pseudonyms,)
        return (self.pseudonyms, previous)

    @property
    def source_order(self) -> list[str]:
        return [s.name for s in self.config.sources]

    @property
    def policy(self) -> FieldPolicy:
        """What adapters may read, consent where ``spec.consent`` says it is recorded."""
        return self._policy(self.config.consent)

    def source_policy(self, name: str) -> FieldPolicy:
        """What the source ``name`` may read, consent where that source records it."""
        return self._policy(self.consent_of(name))

    def consent_of(self, source: str) -> ConsentSpec:
        """The consent policy the records of ``source`` are judged under: spec.consent, with
        what the source sets of its own (``sources[].consent``) in its place."""
        return source_consent(self.config.consent, self.source_spec(source).consent)

    def _policy(self, consent: ConsentSpec) -> FieldPolicy:
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
            spec = self.source_spec(name)
            with _kind_unusable_as_configuration_error():
                context = replace(self.adapter_context, policy=self.source_policy(name))
                self._sources[name] = source_adapter(spec, context)
        return self._sources[name]

    def destination(self, name: str) -> DestinationAdapter:
        if name not in self._destinations:
            spec = next((d for d in self.config.destinations if d.name == name), None)
            if spec is None:
                raise ConfigurationError(
                    f"destination {name!r} is not in this region's configuration"
                )
            with _kind_unusable_as_configuration_error():
                self._destinations[name] = destination_adapter(spec, self.adapter_context)
        return self._destinations[name]

    @property
    def adapter_context(self) -> AdapterContext:
        return AdapterContext(self.policy, self.secrets_dir, self.config.egress)

    async def aclose(self) -> None:
        for source in self._sources.values():
            await source.aclose()
        for destination in self._destinations.values():
            await destination.aclose()
        self._sources.clear()
        self._destinations.clear()


@contextmanager
def _kind_unusable_as_configuration_error() -> Iterator[None]:
    # An adapter this image cannot import stays missing however often the run is retried.
    try:
        yield
    except AdapterNotFound as exc:
        raise ConfigurationError(str(exc)) from exc
