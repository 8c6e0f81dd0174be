"""Who asked for a destructive or privileged run: purges, erasures and lifts of a suppression
carry a signed authorization.

The payload codec already keeps anyone without a region's payload keys from giving its
workers input. Payload keys are widely held, though: every worker, the operator, a codec
server for the Temporal Web UI. Destroying data needs more: the region's keys Secret holds
``requests.key``, 32 random bytes (base64) that seed an Ed25519 key. The operator (purges),
``contactsync erase`` and ``contactsync suppression lift`` sign with it; workers hold only the
public key, which the operator writes into the region's config and never mounts the private
one. A worker, or anyone who can merely read payloads, cannot ask for a purge, an erasure,
or an erased person back.

The signature covers what is destroyed (the kind, namespace/name/region, the subject), the
workflow id it runs under and an expiry, so a request read from history cannot be replayed
for another subject, region or run, nor after it expired.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contactsync_api.errors import Unauthorized
from contactsync_api.workflows import Authorization, RegionRunRequest, SubjectIds
from contactsync_worker.keyring import REQUESTS_KEY, decode_secret_key

PURGE = "purge"
ERASE = "erase"
LIFT = "lift-suppression"
NO_SUBJECT = SubjectIds()  # purges name no one
# Long enough for a purge to wait for workers that are starting, short enough that a request
# copied out of history is useless by the time anyone could reuse it.
VALIDITY = timedelta(hours=1)


def request_key(keys_dir: Path) -> bytes | None:
    """The signing seed from a keys directory, or None when it holds none."""
    path = keys_dir / REQUESTS_KEY
    return decode_secret_key(REQUESTS_KEY, path.read_bytes()) if path.is_file() else None


def public_key_text(seed: bytes) -> str:
    """The public half of a signing seed, base64, as the region's config carries it."""
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(
    seed: bytes,
    kind: str,
    request: RegionRunRequest,
    workflow_id: str,
    now: datetime,
    subject: SubjectIds = NO_SUBJECT,
) -> Authorization:
    not_after = int((now + VALIDITY).timestamp())
    message = _message(kind, request, workflow_id, subject, not_after)
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    return Authorization(not_after=not_after, signature=base64.b64encode(signature).decode())


def verify(
    public_key: str | None,
    kind: str,
    request: RegionRunRequest,
    workflow_id: str,
    now: datetime,
    subject: SubjectIds = NO_SUBJECT,
) -> None:
    """Raise Unauthorized unless ``request`` carries a current signature of this very run."""
    if public_key is None:
        raise Unauthorized(
            f"{kind} refused: this region has no {REQUESTS_KEY} in its keys Secret, so no "
            "request can be verified; add one (32 random bytes, base64)"
        )
    authorization = request.authorization
    if authorization is None:
        raise Unauthorized(f"{kind} refused: the request is not signed")
    if now.timestamp() > authorization.not_after:
        raise Unauthorized(f"{kind} refused: the request's signature expired; ask again")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        signature = base64.b64decode(authorization.signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized(f"{kind} refused: malformed key or signature ({exc})") from exc
    message = _message(kind, request, workflow_id, subject, authorization.not_after)
    try:
        key.verify(signature, message)
    except InvalidSignature as exc:
        raise Unauthorized(
            f"{kind} refused: the signature does not match this request, or was not made "
            f"with the region's {REQUESTS_KEY}"
        ) from exc


def _message(
    kind: str,
    request: RegionRunRequest,
    workflow_id: str,
    subject: SubjectIds,
    not_after: int,
) -> bytes:
    fields: dict[str, object] = {
        "kind": kind,
        "scope": [request.namespace, request.contact_sync, request.region],
        "workflowId": workflow_id,
        "email": subject.email,
        "uid": subject.uid,
        "notAfter": not_after,
    }
    if subject.phone is not None:
        # Only when named: an erasure signed before phones could be named still verifies.
        fields["phone"] = subject.phone
    return b"contactsync-request-v1\n" + json.dumps(fields, sort_keys=True).encode()
