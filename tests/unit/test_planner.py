"""The planner, table-driven: observed state + spec → the changes to make. No cluster."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_operator import naming
from contactsync_operator.children import worker_objects
from contactsync_operator.observed import (
    ChildRef,
    Observed,
    ObservedWorkers,
    RegionAccess,
)
from contactsync_operator.planner import (
    CreateSchedule,
    DeleteSchedule,
    Plan,
    PurgeRetiredRegion,
    UpdateSchedule,
    plan,
    ref_of,
)
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.operator_state import in_sync as observed_in_sync

SETTINGS = OperatorSettings()
EU, US = "eu-central-1", "us-east-1"


def resource(**spec_changes: object) -> ContactSync:
    document = example("multi-region")
    document["metadata"]["uid"] = "uid-1"
    document["spec"].update(spec_changes)
    return parse_contact_sync(document)


def in_sync(
    res: ContactSync, *, paused_by_hand: bool = False, regions: tuple[str, ...] = (EU, US)
) -> Observed:
    return observed_in_sync(res, SETTINGS, regions=regions, paused_by_hand=paused_by_hand)


def kinds(result: Plan) -> list[str]:
    return sorted(f"{m['kind']}/{m['metadata']['name']}" for m in result.apply)


@dataclass
class Case:
    name: str
    spec: dict[str, object] = field(default_factory=dict)  # the spec now
    observed_spec: dict[str, object] = field(default_factory=dict)  # the spec when last applied
    observed_regions: tuple[str, ...] = (EU, US)
    paused_by_hand: bool = False
    applies: int = 0
    schedule_changes: tuple[str, ...] = ()  # "Create:<suffix>" etc.


CASES = [
    Case(
        "nothing observed: everything is created",
        observed_regions=(),
        applies=10,
        schedule_changes=(
            "Create:eu-central-1/retention",
            "Create:eu-central-1/sync",
            "Create:us-east-1/retention",
            "Create:us-east-1/sync",
        ),
    ),
    Case("everything current: no change at all"),
    Case(
        "a field edit rolls the config and workers, not the schedules",
        spec={"fields": ["fullName", "emails"]},
        applies=4,
    ),
    Case(
        "a jitter edit updates the sync schedules only",
        spec={"schedule": {"cron": "*/15 * * * *", "jitter": "5m", "timeZone": "Europe/Berlin"}},
        observed_spec={
            "schedule": {"cron": "*/15 * * * *", "jitter": "2m", "timeZone": "Europe/Berlin"}
        },
        schedule_changes=("Update:eu-central-1/sync", "Update:us-east-1/sync"),
    ),
    Case(
        "paused by a person, unrelated edit: nothing to do for schedules",
        paused_by_hand=True,
        spec={"fields": ["fullName"]},
        applies=4,
    ),
    Case(
        "the spec pauses: every schedule is updated",
        spec={
            "schedule": {
                "cron": "*/15 * * * *",
                "jitter": "2m",
                "timeZone": "Europe/Berlin",
                "paused": True,
            }
        },
        schedule_changes=(
            "Update:eu-central-1/retention",
            "Update:eu-central-1/sync",
            "Update:us-east-1/retention",
            "Update:us-east-1/sync",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan(case: Case) -> None:
    before = resource(**case.observed_spec)
    now = resource(**{**case.observed_spec, **case.spec})
    observed = in_sync(before, paused_by_hand=case.paused_by_hand, regions=case.observed_regions)
    result = plan(now, observed, SETTINGS)
    assert len(result.apply) == case.applies, kinds(result)
    changes = sorted(
        f"{type(c).__name__.removesuffix('Schedule')}:"
        + (c.schedule_id if isinstance(c, DeleteSchedule) else c.desired.schedule_id).split("/", 3)[
            3
        ]
        for c in result.schedules
    )
    assert tuple(changes) == case.schedule_changes
    assert result.delete == []


def test_update_keeps_a_hand_pause_unless_the_spec_pause_changed() -> None:
    before = resource()
    observed = in_sync(before, paused_by_hand=True)
    edited = resource(schedule={"cron": "0 * * * *", "timeZone": "Europe/Berlin"})
    updates = [
        c for c in plan(edited, observed, SETTINGS).schedules if isinstance(c, UpdateSchedule)
    ]
    assert updates
    assert all(u.keep_pause_state for u in updates)


def test_removed_region_loses_children_and_schedules() -> None:
    before = resource()
    observed = in_sync(before)
    result = plan(without_us(), observed, SETTINGS)
    assert {ref.kind for ref in result.delete} == {
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    assert all(US in ref.name for ref in result.delete)
    deleted = sorted(c.schedule_id for c in result.schedules if isinstance(c, DeleteSchedule))
    assert [d.rsplit("/", 2)[1:] for d in deleted] == [[US, "retention"], [US, "sync"]]


def without_us(**spec_changes: object) -> ContactSync:
    document = example("multi-region")
    document["metadata"]["uid"] = "uid-1"
    spec = document["spec"]
    spec["regions"] = [r for r in spec["regions"] if r["name"] == EU]
    spec["sources"] = [s for s in spec["sources"] if s["region"] == EU]
    spec["destinations"] = [d for d in spec["destinations"] if d["region"] == EU]
    spec.update(spec_changes)
    return parse_contact_sync(document)


def test_removed_region_under_purge_keeps_its_workers_until_they_have_purged() -> None:
    observed = in_sync(resource(deletionPolicy="Purge"))
    observed.workers[US] = ObservedWorkers(1, 1, "deploy-uid-7", "us-keys", "contacts-us")
    result = plan(without_us(deletionPolicy="Purge"), observed, SETTINGS)
    assert result.delete == [], "nothing of the region goes before its purge completes"
    assert result.purges == [
        PurgeRetiredRegion(
            region=US,
            workflow_id=naming.purge_workflow_id(
                "contacts", "global-phonebook", US, "deploy-uid-7"
            ),
            task_queue=naming.task_queue("contacts", "global-phonebook", US),
            keys_secret="us-keys",
            temporal_namespace="contacts-us",
            children=tuple(
                sorted(
                    (r for r, c in observed.children.items() if c.region == US),
                    key=lambda ref: (ref.kind, ref.name),
                )
            ),
        )
    ]
    assert {ref.kind for ref in result.purges[0].children} >= {"Deployment", "ConfigMap"}
    deleted = [c.schedule_id for c in result.schedules if isinstance(c, DeleteSchedule)]
    assert deleted, "its schedules go first"
    assert all(f"/{US}/" in d for d in deleted)


def test_a_region_added_back_and_removed_again_is_purged_again() -> None:
    observed = in_sync(resource(deletionPolicy="Purge"))
    observed.workers[US] = ObservedWorkers(1, 1, "first-deployment", "us-keys", "default")
    first = plan(without_us(deletionPolicy="Purge"), observed, SETTINGS).purges[0]
    observed.workers[US] = ObservedWorkers(1, 1, "second-deployment", "us-keys", "default")
    second = plan(without_us(deletionPolicy="Purge"), observed, SETTINGS).purges[0]
    assert first.workflow_id != second.workflow_id


@pytest.mark.parametrize(
    ("policy", "annotations"),
    [("Retain", {}), ("Purge", {"contactsync.dev/skip-purge": "true"})],
    ids=["retain", "purge-skipped-by-annotation"],
)
def test_removed_region_without_purge_is_deleted_at_once(
    policy: str, annotations: dict[str, str]
) -> None:
    observed = in_sync(resource(deletionPolicy=policy))
    observed.workers[US] = ObservedWorkers(1, 1, "deploy-uid", "us-keys", "default")
    now = without_us(deletionPolicy=policy)
    now = ContactSync(now.namespace, now.name, now.spec, now.generation, now.uid, annotations)
    result = plan(now, observed, SETTINGS)
    assert result.purges == []
    assert result.delete
    assert all(US in ref.name for ref in result.delete)


def test_region_served_elsewhere_is_left_alone() -> None:
    res = resource()
    observed = in_sync(res)
    result = plan(res, observed, OperatorSettings(served_regions=frozenset({EU})))
    assert [r.served_here for r in result.regions] == [True, False]
    assert result.schedules == []
    assert all(US in ref.name for ref in result.delete)  # its workers belong to another cluster


def test_missing_keys_block_the_region_but_keep_what_exists() -> None:
    res = resource()
    observed = in_sync(res)
    observed.access[EU] = RegionAccess(
        EU, "Secret eu-contact-keys does not exist", Reason.ENCRYPTION_KEYS_MISSING
    )
    result = plan(res, observed, SETTINGS)
    assert result.delete == []
    assert result.schedules == []
    assert result.regions[0].blocked_reason == "EncryptionKeysMissing"


def test_temporal_down_still_applies_kubernetes_objects_and_touches_no_schedule() -> None:
    res = resource()
    observed = Observed(temporal_error="connection refused")
    result = plan(res, observed, SETTINGS)
    assert len(result.apply) == 10
    assert result.schedules == []


def test_deleted_by_hand_is_recreated() -> None:
    res = resource()
    observed = in_sync(res)
    deployment = next(r for r in observed.children if r.kind == "Deployment" and EU in r.name)
    del observed.children[deployment]
    sync_id = next(i for i in observed.schedules if i.endswith(f"{EU}/sync"))
    del observed.schedules[sync_id]
    result = plan(res, observed, SETTINGS)
    assert [ref_of(m) for m in result.apply] == [deployment]
    assert [type(c) for c in result.schedules] == [CreateSchedule]


def test_child_refs_are_stable() -> None:
    assert ref_of(worker_objects(resource(), resource().spec.regions[0], SETTINGS)[2]) == ChildRef(
        "apps/v1", "Deployment", naming.object_name("global-phonebook", "eu-central-1")
    )
