"""A region's keys Secret as the operator uses it: payload keys for its Temporal client,
the request key it signs purges with, and what of it the workers may mount."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from contactsync_api.reasons import Reason
from contactsync_api.spec import RegionSpec
from contactsync_api.workflows import RegionRunRequest
from contactsync_operator.observed import RegionAccess, WorkerKeys
from contactsync_worker import authorization
from contactsync_worker.keyring import REQUESTS_KEY, Keyring, KeyringError, decode_secret_key


@dataclass(frozen=True)
class RegionKeys:
    region: str
    secret: str
    keyring: Keyring
    names: tuple[str, ...]  # every entry of the Secret
    request_key: bytes | None  # signs purges; never mounted into workers

    @property
    def missing_request_key(self) -> str | None:
        """Why purges of this region cannot be asked for, if they cannot."""
        if self.request_key is not None:
            return None
        return (
            f"the keys Secret {self.secret} of region {self.region} has no {REQUESTS_KEY}: "
            "purges are signed with it and workers refuse unsigned ones; add one (32 random "
            "bytes, base64)"
        )

    @property
    def for_workers(self) -> WorkerKeys:
        return WorkerKeys(
            items=tuple(n for n in self.names if n != REQUESTS_KEY),
            requests_public_key=(
                authorization.public_key_text(self.request_key) if self.request_key else None
            ),
        )

    def signed_purge(
        self, request: RegionRunRequest, workflow_id: str, now: datetime
    ) -> RegionRunRequest | None:
        """The purge request signed for ``workflow_id``, or None without a request key."""
        if self.request_key is None:
            return None
        signed = authorization.sign(
            self.request_key, authorization.PURGE, request, workflow_id, now
        )
        return RegionRunRequest(request.namespace, request.contact_sync, request.region, signed)


def keys_secret_of(region: RegionSpec) -> str | RegionAccess:
    """The name of the region's keys Secret, or why the region cannot run whatever its Secrets
    hold: the spec names none (a question of the spec alone, so answered without a cluster)."""
    if region.encryption is None:
        return RegionAccess(
            region.name,
            "no encryption.keysSecretRef: workers and schedules need payload keys",
            Reason.ENCRYPTION_NOT_CONFIGURED,
        )
    return region.encryption.keys_secret_ref.name


def parse_keys_secret(
    region: str, secret: str, data: Mapping[str, bytes] | None
) -> RegionKeys | RegionAccess:
    if data is None:
        return RegionAccess(
            region, f"Secret {secret} does not exist", Reason.ENCRYPTION_KEYS_MISSING
        )
    try:
        keyring = Keyring.from_mapping(data)
        seed = decode_secret_key(REQUESTS_KEY, data[REQUESTS_KEY]) if REQUESTS_KEY in data else None
    except KeyringError as exc:
        return RegionAccess(region, f"Secret {secret}: {exc}", Reason.ENCRYPTION_KEYS_INVALID)
    return RegionKeys(region, secret, keyring, tuple(sorted(data)), seed)
