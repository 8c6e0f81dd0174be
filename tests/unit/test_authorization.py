"""Signed purge and erasure requests: only this very run, signed with the region's request
key and not expired, verifies. Pure logic; the workers' refusal is in
tests/integration/test_keyless_clients.py."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from contactsync_api.errors import Unauthorized
from contactsync_api.workflows import RegionRunRequest
from contactsync_worker import authorization
from contactsync_worker.authorization import ERASE, PURGE, public_key_text, sign

SEED = secrets.token_bytes(32)
PUBLIC = public_key_text(SEED)
REQUEST = RegionRunRequest("sales", "phonebook", "eu-central-1")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RUN = "contactsync/sales/phonebook/eu-central-1/purge/uid-1"


def signed(
    kind: str = PURGE, subject: tuple[str | None, str | None] = (None, None)
) -> RegionRunRequest:
    return dataclasses.replace(REQUEST, authorization=sign(SEED, kind, REQUEST, RUN, NOW, subject))


def test_a_request_signed_for_this_run_verifies() -> None:
    authorization.verify(PUBLIC, PURGE, signed(), RUN, NOW + timedelta(minutes=59))
    erasure = signed(ERASE, ("erika@example.org", None))
    authorization.verify(PUBLIC, ERASE, erasure, RUN, NOW, ("erika@example.org", None))


@pytest.mark.parametrize(
    ("kind", "request_", "run", "subject", "now", "why"),
    [
        (PURGE, REQUEST, RUN, (None, None), NOW, "not signed"),
        (ERASE, signed(), RUN, (None, None), NOW, "does not match"),
        (
            PURGE,
            dataclasses.replace(signed(), region="us-east-1"),
            RUN,
            (None, None),
            NOW,
            "does not match",
        ),
        (PURGE, signed(), RUN + "-again", (None, None), NOW, "does not match"),
        (
            ERASE,
            signed(ERASE, ("erika@example.org", None)),
            RUN,
            ("max@example.org", None),
            NOW,
            "does not match",
        ),
        (PURGE, signed(), RUN, (None, None), NOW + timedelta(hours=1, seconds=1), "expired"),
    ],
    ids=[
        "unsigned",
        "a purge's signature used for an erasure",
        "another region",
        "another workflow run",
        "another data subject",
        "expired",
    ],
)
def test_anything_but_this_run_is_refused(
    kind: str,
    request_: RegionRunRequest,
    run: str,
    subject: tuple[str | None, str | None],
    now: datetime,
    why: str,
) -> None:
    with pytest.raises(Unauthorized, match=why):
        authorization.verify(PUBLIC, kind, request_, run, now, subject)


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
