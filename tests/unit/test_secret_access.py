"""A ContactSync mounts only Secrets their owners opted in for it, never a ServiceAccount
token, and nothing while a named Secret is missing."""

from __future__ import annotations

import pytest

from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_operator.kube import SecretMeta
from contactsync_operator.secret_access import check_secrets, mounted_secrets
from tests.corpus.manifests import example


def phonebook() -> ContactSync:
    document = example("multi-region")
    document["metadata"] = {"name": "book", "namespace": "ns", "uid": "u"}
    return parse_contact_sync(document)


def opted_in(name: str, **annotations: str) -> SecretMeta:
    return SecretMeta(name, {"contactsync.dev/use": "book"}, dict(annotations), "Opaque")


def test_every_secret_the_manifest_names_is_checked_keys_first() -> None:
    resource = phonebook()
    eu = resource.spec.regions[0]
    names = mounted_secrets(resource, eu)
    assert names[0] == "eu-contact-keys"
    assert "eu-store" in names
    assert len(names) == len(set(names))


def test_a_region_whose_secrets_all_opted_in_may_run() -> None:
    resource = phonebook()
    assert check_secrets(resource, resource.spec.regions[0], opted_in) is None


@pytest.mark.parametrize(
    ("meta", "reason", "says"),
    [
        (lambda n: None, "SecretMissing", "does not exist"),
        (lambda n: SecretMeta(n, {}, {}, "Opaque"), "SecretNotAllowed", "kubectl label secret"),
        (
            lambda n: SecretMeta(n, {"contactsync.dev/use": "other"}, {}, "Opaque"),
            "SecretNotAllowed",
            "contactsync.dev/use=book",
        ),
        (
            lambda n: SecretMeta(
                n, {"contactsync.dev/use": "book"}, {}, "kubernetes.io/service-account-token"
            ),
            "SecretNotAllowed",
            "ServiceAccount token",
        ),
    ],
    ids=["missing", "unlabelled", "labelled-for-another", "service-account-token"],
)
def test_a_secret_not_opted_in_blocks_the_region(meta, reason: str, says: str) -> None:  # type: ignore[no-untyped-def]
    resource = phonebook()
    refused = check_secrets(resource, resource.spec.regions[0], meta)
    assert refused is not None
    assert refused.reason == reason
    assert refused.problem is not None
    assert says in refused.problem
    assert "eu-contact-keys" in refused.problem


def test_a_shared_secret_lists_its_contactsyncs_in_the_annotation() -> None:
    resource = phonebook()

    def shared(name: str) -> SecretMeta:
        return SecretMeta(name, {}, {"contactsync.dev/use": "crm, book"}, "Opaque")

    assert check_secrets(resource, resource.spec.regions[0], shared) is None
