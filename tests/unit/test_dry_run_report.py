"""How a dry run's report is worded: counts, the guard's verdict, and contact values only
when the report carries them."""

from __future__ import annotations

from contactsync_api.workflows import SyncSummary
from contactsync_worker.dry_run import (
    Change,
    ContactChange,
    DestinationPlan,
    DryRunReport,
    GuardCheck,
    SourceReading,
    describe,
)

SCOPE = "sales/crm-to-phonebook/eu"


def report(**overrides: object) -> DryRunReport:
    values: dict[str, object] = {
        "scope": SCOPE,
        "summary": SyncSummary(created=1, updated=2, deleted=3, unchanged=4, pages=2),
        "destinations": (DestinationPlan("phonebook", 1, 2, 3, 5, held=10),),
        "sources": (SourceReading("crm", 9, 1, 1, 0, whole=True),),
    }
    values.update(overrides)
    return DryRunReport(**values)  # type: ignore[arg-type]


def test_the_counts_of_each_destination_and_source_are_said() -> None:
    lines = describe(report())
    assert lines[0] == f"dry run of {SCOPE}: nothing was written"
    assert (
        "source crm: read 9, skipped without consent 1, skipped as erased 1, quarantined 0" in lines
    )
    assert (
        "destination phonebook: would create 1, update 2, delete 3, unchanged 5 (of 10 held)"
        in (lines)
    )
    assert not any("guard" in line for line in lines)


def test_a_source_not_read_whole_is_said_to_remove_nothing() -> None:
    lines = describe(report(sources=(SourceReading("crm", 9),)))
    assert any("not read whole" in line for line in lines)


def test_a_delta_source_is_said_to_name_its_removals_not_to_be_read_short() -> None:
    lines = describe(report(sources=(SourceReading("book", 3, delta=True),)))
    line = next(line for line in lines if line.startswith("source book:"))
    assert line.endswith("(its changes since the last sync; it names what it removed)")
    assert "not read whole" not in line


def test_the_guard_says_whether_it_blocks_and_at_what_share() -> None:
    blocked = report(
        guard=(
            GuardCheck("archive", 1, 10, 20, blocked=False),
            GuardCheck("phonebook", 5, 10, 20, blocked=True),
        ),
        blocked_message="this sync would delete 5 of 10 contacts of phonebook",
    )
    assert blocked.blocked
    lines = describe(blocked)
    assert "mass-delete guard on archive: allows (1 of 10, 10%, limit 20%)" in lines
    assert "mass-delete guard on phonebook: BLOCKS the sync (5 of 10, 50%, limit 20%)" in lines
    assert lines[-2] == "the sync would stop: this sync would delete 5 of 10 contacts of phonebook"
    assert GuardCheck("empty", 0, 0, 20, blocked=False).percent == 0


def test_changes_are_listed_by_id_and_field_names_and_values_only_when_carried() -> None:
    changes = (
        ContactChange("c-1", Change.CREATE, ("emails", "fullName")),
        ContactChange("c-2", Change.DELETE),
    )
    plan = DestinationPlan("phonebook", 1, 0, 1, 0, held=1, changes=changes)
    lines = describe(report(destinations=(plan,), detail=True))
    assert "  create c-1: emails, fullName" in lines
    assert "  delete c-2" in lines
    with_values = ContactChange("c-1", Change.UPDATE, ("fullName",), {"fullName": "Ada"})
    plan = DestinationPlan("phonebook", 0, 1, 0, 0, held=1, changes=(with_values,))
    assert "  update c-1: fullName fullName='Ada'" in describe(report(destinations=(plan,)))
    quiet = DestinationPlan("phonebook", held=1, unchanged=1)
    assert "  no contact would change" in describe(report(destinations=(quiet,), detail=True))


def test_values_not_what_their_field_says_are_counted_only_when_there_are_any() -> None:
    assert not any("values not what" in line for line in describe(report()))
    summary = SyncSummary(dropped_emails=2, dropped_phones=1, quarantined_no_identity=1)
    lines = describe(report(summary=summary))
    assert lines[-1] == (
        "values not what their field says: emails dropped 2, phones dropped 1; records set "
        "aside for such values 0, for having no identity and no name 1"
    )
