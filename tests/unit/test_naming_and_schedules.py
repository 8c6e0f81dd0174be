"""Deterministic names and the schedules a spec asks for (no server)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
)

from contactsync_api.manifest import parse_contact_sync
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput
from contactsync_operator import naming, schedules
from tests.corpus.manifests import example


def test_long_object_names_are_shortened_with_a_hash_that_tells_them_apart() -> None:
    first = naming.object_name("a" * 50 + "-one", "eu-central-1")
    second = naming.object_name("a" * 50 + "-two", "eu-central-1")
    assert len(first) <= 63
    assert len(second) <= 63
    assert first != second
    assert first.endswith("-worker")


def test_a_purge_belongs_to_one_contactsync_object() -> None:
    first = naming.purge_workflow_id("ns", "book", "eu", "uid-1")
    again = naming.purge_workflow_id("ns", "book", "eu", "uid-2")
    assert first != again
    assert first.startswith(naming.resource_prefix("ns", "book"))


def test_short_object_names_stay_readable() -> None:
    name = naming.object_name("crm", "eu-central-1")
    assert name.startswith("crm-eu-central-1-")
    assert name.endswith("-worker")


def test_names_that_read_alike_are_different_objects() -> None:
    """a-b in region c and a in region b-c: the same words, two ContactSyncs."""
    assert naming.object_name("a-b", "c") != naming.object_name("a", "b-c")
    assert naming.object_name("a-b", "c", "config") != naming.object_name("a", "b-c", "config")


def test_schedule_ids_share_the_resource_prefix() -> None:
    prefix = naming.resource_prefix("sales", "crm")
    assert naming.sync_schedule_id("sales", "crm", "eu").startswith(prefix)
    assert naming.retention_schedule_id("sales", "crm", "eu").startswith(prefix)
    assert naming.sync_schedule_id("sales", "crm", "eu") != naming.sync_schedule_id(
        "sales", "crm-eu", "x"
    )


def test_cron_schedule_carries_time_zone_jitter_and_overlap() -> None:
    resource = parse_contact_sync(example("multi-region"))
    schedule = schedules.sync_schedule(resource, "eu-central-1").schedule
    assert schedule.spec.cron_expressions == ["*/15 * * * *"]
    assert schedule.spec.time_zone_name == "Europe/Berlin"
    assert schedule.spec.jitter == timedelta(minutes=2)
    assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == SYNC_WORKFLOW
    assert action.task_queue == naming.task_queue("contacts", "global-phonebook", "eu-central-1")
    assert action.args == [
        SyncInput(RegionRunRequest("contacts", "global-phonebook", "eu-central-1"))
    ]


def test_interval_schedule_and_pause() -> None:
    document = example("quickstart")
    document["spec"]["schedule"]["paused"] = True
    schedule = schedules.sync_schedule(parse_contact_sync(document), "local").schedule
    assert schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=15))]
    assert schedule.state.paused


def test_timing_in_words() -> None:
    spec = parse_contact_sync(example("multi-region")).spec
    assert schedules.describe_timing(spec.schedule) == "*/15 * * * * (Europe/Berlin), jitter 2m"


def test_fingerprint_ignores_pause_and_unrelated_edits() -> None:
    base = parse_contact_sync(example("multi-region"))
    document = example("multi-region")
    document["spec"]["schedule"]["paused"] = True
    document["spec"]["fields"] = ["fullName", "emails"]
    edited = parse_contact_sync(document)
    first = schedules.sync_schedule(base, "eu-central-1")
    second = schedules.sync_schedule(edited, "eu-central-1")
    assert first.fingerprint == second.fingerprint
    assert (first.paused, second.paused) == (False, True)


def test_fingerprint_follows_timing_edits() -> None:
    base = parse_contact_sync(example("multi-region"))
    document = example("multi-region")
    document["spec"]["schedule"]["jitter"] = "3m"
    edited = parse_contact_sync(document)
    assert (
        schedules.sync_schedule(base, "eu-central-1").fingerprint
        != schedules.sync_schedule(edited, "eu-central-1").fingerprint
    )
    assert (
        schedules.retention_schedule(base, "eu-central-1").fingerprint
        == schedules.retention_schedule(edited, "eu-central-1").fingerprint
    )
