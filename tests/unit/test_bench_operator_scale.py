"""The operator scale benchmark's bookkeeping: its fleet is one the operator accepts, with
every Secret opted in; the audit log is counted once per request of the operator's user; and
a ContactSync counts as reconciled only once its status is current and waits for pods alone."""

from __future__ import annotations

import json
from typing import Any

from bench.operator_scale import audit
from bench.operator_scale.fleet import Fleet
from bench.operator_scale.progress import progress, reconciled, settled

from contactsync_api.manifest import parse_contact_sync
from contactsync_operator.kube import SecretMeta
from contactsync_operator.secret_access import check_secrets

OPERATOR = "system:serviceaccount:contactsync-system:contactsync"


def test_every_contact_sync_parses_and_may_mount_the_secrets_of_its_namespace() -> None:
    fleet = Fleet(resources=25, regions=3, per_namespace=10)
    documents = fleet.contact_syncs()
    assert len(documents) == 25
    assert [len(fleet.members(n)) for n in fleet.namespaces] == [10, 10, 5]
    for document in documents:
        resource = parse_contact_sync(
            {**document, "metadata": {**document["metadata"], "uid": "u"}}
        )
        assert [r.name for r in resource.spec.regions] == fleet.region_names
        secrets = {
            s["metadata"]["name"]: SecretMeta(
                s["metadata"]["name"], {}, s["metadata"]["annotations"], "Opaque"
            )
            for s in fleet.secrets(resource.namespace)
        }
        for region in resource.spec.regions:
            assert check_secrets(resource, region, secrets.get) is None


def _event(audit_id: str, stage: str, user: str = OPERATOR, **extra: Any) -> str:
    event = {
        "auditID": audit_id,
        "stage": stage,
        "verb": "list",
        "user": {"username": user},
        "objectRef": {"resource": "deployments"},
        "requestReceivedTimestamp": "2026-01-01T00:00:10.500000Z",
        **extra,
    }
    return json.dumps(event)


def test_a_request_counts_once_for_the_operator_and_not_for_others() -> None:
    base = 1767225600.0  # 2026-01-01T00:00:00Z
    lines = [
        _event("a", "ResponseStarted", verb="watch"),
        _event("a", "ResponseComplete", verb="watch"),
        _event(
            "b",
            "ResponseComplete",
            objectRef={"resource": "contactsyncs", "subresource": "status"},
            verb="patch",
        ),
        _event("c", "ResponseComplete", user="system:kube-controller-manager"),
        _event("d", "ResponseComplete", requestReceivedTimestamp="2026-01-01T00:01:10Z"),
        "",
    ]
    found = audit.requests(lines, OPERATOR)
    assert len(found) == 3
    counted = audit.tally(found, base, base + 30)
    assert counted.total == 2
    assert counted.per_minute == 4.0
    assert dict(counted.top()) == {"watch deployments": 2.0, "patch contactsyncs/status": 2.0}


def _body(generation: int = 2, **status: Any) -> dict[str, Any]:
    conditions = [
        {"type": "Ready", "status": "False", "reason": "WorkersNotReady"},
        {"type": "Progressing", "status": "True", "reason": "Applying"},
        {"type": "Degraded", "status": "False", "reason": "AsExpected"},
        {"type": "Reconciling", "status": "True", "reason": "Applying"},
        {"type": "Stalled", "status": "False", "reason": "AsExpected"},
    ]
    return {
        "metadata": {"namespace": "ns", "name": "book", "generation": generation},
        "status": {
            "observedGeneration": 2,
            "conditions": [{**c, "observedGeneration": 2} for c in conditions],
            "regions": [{"name": "a", "scheduleId": "x"}, {"name": "b", "scheduleId": "y"}],
            **status,
        },
    }


def test_reconciled_means_current_status_waiting_only_for_workers() -> None:
    assert reconciled(_body(), regions=2)
    assert not settled(_body(), regions=2)
    assert not reconciled(_body(generation=3), regions=2), "status of an older generation"
    assert not reconciled(_body(regions=[{"name": "a", "scheduleId": "x"}]), regions=2)
    degraded = _body()
    degraded["status"]["conditions"][2] |= {"status": "True", "message": "SecretMissing: ..."}
    degraded["status"]["conditions"][0]["reason"] = "SecretMissing"
    assert not reconciled(degraded, regions=2)
    assert progress([degraded, _body()], regions=2).degraded == ("ns/book: SecretMissing: ...",)


def test_settled_once_a_reconcile_found_nothing_to_apply() -> None:
    body = _body()
    body["status"]["conditions"][1]["reason"] = "WaitingForWorkers"
    assert settled(body, regions=2)
    state = progress([body, _body(), {"metadata": {"generation": 1}}], regions=2)
    assert (state.total, state.reconciled, state.settled) == (3, 2, 1)
    assert not state.done(3)
