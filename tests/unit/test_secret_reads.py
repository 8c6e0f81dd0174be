"""A reconcile fetches each Secret it names once: the opt-in check, the payload keys and the
DSN ports of a region all read the same fetch, and the next reconcile fetches anew."""

from __future__ import annotations

import base64
from collections import Counter
from typing import cast

from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_operator.kube import KubeGateway, SecretMeta, StoredSecret
from contactsync_operator.reconcile import Reconciler
from contactsync_operator.region_keys import RegionKeys
from contactsync_operator.secret_access import check_secrets, mounted_secrets
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example

KEY = base64.b64encode(bytes(32))


class CountingKube:
    """The one Secret read KubeGateway offers, counted by name."""

    def __init__(self, data: dict[str, dict[str, bytes]]) -> None:
        self.data = data
        self.fetched: Counter[str] = Counter()

    def secret(self, namespace: str, name: str) -> StoredSecret | None:
        self.fetched[name] += 1
        if name not in self.data:
            return None
        meta = SecretMeta(name, {"contactsync.dev/use": "book"}, {}, "Opaque")
        return StoredSecret(meta, self.data[name])


def phonebook() -> ContactSync:
    document = example("multi-region")
    document["metadata"] = {"name": "book", "namespace": "ns", "uid": "u"}
    return parse_contact_sync(document)


def secrets_of(resource: ContactSync) -> dict[str, dict[str, bytes]]:
    data: dict[str, dict[str, bytes]] = {}
    for region in resource.spec.regions:
        for name in mounted_secrets(resource, region):
            data[name] = {"dsn": b"postgresql://u@db.example.com:6432/x", "user": b"u"}
        assert region.encryption is not None
        data[region.encryption.keys_secret_ref.name] = {"k0001": KEY}
    return data


async def test_a_region_reads_each_of_its_secrets_once_per_reconcile() -> None:
    resource = phonebook()
    kube = CountingKube(secrets_of(resource))
    reconciler = Reconciler(cast(KubeGateway, kube), OperatorSettings())
    eu = resource.spec.regions[0]
    for _ in range(2):  # two reconciles
        reads = reconciler.secret_reads(resource.namespace)
        keys = await reconciler.region_keys(resource, eu, reads)
        assert isinstance(keys, RegionKeys)
        assert check_secrets(resource, eu, reads.meta) is None
        assert reconciler._database_ports(resource, eu, reads) == (6432,)
    assert set(kube.fetched) == set(mounted_secrets(resource, eu))
    assert set(kube.fetched.values()) == {2}, "once each per reconcile"


async def test_a_missing_secret_is_asked_for_once_and_reported() -> None:
    resource = phonebook()
    data = secrets_of(resource)
    del data["eu-store"]
    kube = CountingKube(data)
    reconciler = Reconciler(cast(KubeGateway, kube), OperatorSettings())
    reads = reconciler.secret_reads(resource.namespace)
    eu = resource.spec.regions[0]
    refused = check_secrets(resource, eu, reads.meta)
    assert refused is not None
    assert refused.problem == "Secret eu-store does not exist"
    assert reads.data("eu-store") is None
    assert kube.fetched["eu-store"] == 1
