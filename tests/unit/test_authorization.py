"""Signed purge, erasure and suppression-lift requests: only this very run, signed with the
region's request key and not expired, verifies. Pure logic; the workers' refusal is in
tests/integration/test_keyless_clients.py and tests/integration/test_suppression.py."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from contactsync_api.errors import Unauthorized
from contactsync_api.workflows import RegionRunRequest, SubjectIds
from contactsync_worker import authorization
from contactsync_worker.authorization import ERASE, LIFT, NO_SUBJECT, PURGE, public_key_text, sign

SEED = secrets.token_bytes(32)
PUBLIC = public_key_text(SEED)
REQUEST = RegionRunRequest("sales", "phonebook", "eu-central-1")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RUN = "contactsync/sales/phonebook/eu-central-1/purge/uid-1"


ERIKA = SubjectIds(email="erika@example.org")
MAX = SubjectIds(email="max@example.org")


def signed(kind: str = PURGE, subject: SubjectIds = NO_SUBJECT) -> RegionRunRequest:
    return dataclasses.replace(REQUEST, authorization=sign(SEED, kind, REQUEST, RUN, NOW, subject))


def test_a_request_signed_for_this_run_verifies() -> None:
    authorization.verify(PUBLIC, PURGE, signed(), RUN, NOW + timedelta(minutes=59))
    erasure = signed(ERASE, ERIKA)
    authorization.verify(PUBLIC, ERASE, erasure, RUN, NOW, ERIKA)
    by_phone = SubjectIds(phone="+49 30 1234567", uid="erika-1")
    authorization.verify(PUBLIC, LIFT, signed(LIFT, by_phone), RUN, NOW, by_phone)


@pytest.mark.parametrize(
    ("kind", "request_", "run", "subject", "now", "why"),
    [
        (PURGE, REQUEST, RUN, NO_SUBJECT, NOW, "not signed"),
        (ERASE, signed(), RUN, NO_SUBJECT, NOW, "does not match"),
        (
            PURGE,
            dataclasses.replace(signed(), region="us-east-1"),
            RUN,
            NO_SUBJECT,
            NOW,
            "does not match",
        ),
        (PURGE, signed(), RUN + "-again", NO_SUBJECT, NOW, "does not match"),
        (ERASE, signed(ERASE, ERIKA), RUN, MAX, NOW, "does not match"),
        (
            ERASE,
            signed(ERASE, SubjectIds(phone="+4930111")),
            RUN,
            SubjectIds(phone="+4930222"),
            NOW,
            "does not match",
        ),
        (LIFT, signed(ERASE, ERIKA), RUN, ERIKA, NOW, "does not match"),
        (PURGE, signed(), RUN, NO_SUBJECT, NOW + timedelta(hours=1, seconds=1), "expired"),
    ],
    ids=[
        "unsigned",
        "a purge's signature used for an erasure",
        "another region",
        "another workflow run",
        "another data subject",
        "another phone number",
        "an erasure's signature used to lift a suppression",
        "expired",
    ],
)
def test_anything_but_this_run_is_refused(
    kind: str,
    request_: RegionRunRequest,
    run: str,
    subject: SubjectIds,
    now: datetime,
    why: str,
) -> None:
    with pytest.raises(Unauthorized, match=why):
        authorization.verify(PUBLIC, kind, request_, run, now, subject)


def test_an_erasure_signed_before_phones_could_be_named_still_verifies() -> None:
    # What a client of the earlier message format signed: no phone entry at all.
    import base64
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from contactsync_api.workflows import Authorization

    not_after = int((NOW + timedelta(minutes=5)).timestamp())
    fields = {
        "kind": ERASE,
        "scope": [REQUEST.namespace, REQUEST.contact_sync, REQUEST.region],
        "workflowId": RUN,
        "email": "erika@example.org",
        "uid": None,
        "notAfter": not_after,
    }
    message = b"contactsync-request-v1\n" + json.dumps(fields, sort_keys=True).encode()
    signature = base64.b64encode(Ed25519PrivateKey.from_private_bytes(SEED).sign(message))
    earlier = dataclasses.replace(
        REQUEST, authorization=Authorization(not_after, signature.decode())
    )

    authorization.verify(PUBLIC, ERASE, earlier, RUN, NOW, ERIKA)


def test_a_signature_made_with_another_key_is_refused() -> None:
    forged = dataclasses.replace(
        REQUEST, authorization=sign(secrets.token_bytes(32), PURGE, REQUEST, RUN, NOW)
    )
    with pytest.raises(Unauthorized, match=r"not made with the region's requests\.key"):
        authorization.verify(PUBLIC, PURGE, forged, RUN, NOW)


def test_a_region_without_a_request_key_refuses_every_destructive_request() -> None:
    with pytest.raises(Unauthorized, match=r"no requests\.key"):
        authorization.verify(None, PURGE, signed(), RUN, NOW)


def test_the_payload_keyring_never_takes_the_request_key_for_a_payload_key() -> None:
    from contactsync_worker.keyring import Keyring

    keyring = Keyring.from_mapping({"k0001": "A" * 43 + "=", "requests.key": "B" * 43 + "="})
    assert list(keyring) == ["k0001"]
