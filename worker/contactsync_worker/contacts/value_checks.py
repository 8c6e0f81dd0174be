"""Values that are not what their field says, and records that name no one (pure).

Run by the engine on every page of every source (``engine.pages``), after the source's own
minimization: each email and phone is checked (``contacts.value_syntax``); an invalid one
is dropped or its record quarantined as ``spec.values.invalid`` says. Then a record left
with no identity value and no name is quarantined: it could be merged with no one and
shown as no one. What is reported is counts, ids and field names, never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from contactsync_api.contact_values import InvalidValues, ValuesSpec
from contactsync_api.fields import ContactField, IdentityKey
from contactsync_worker.contacts.model import Contact, FieldValue, Quarantined
from contactsync_worker.contacts.typed import Typed, as_typed, united_values
from contactsync_worker.contacts.value_syntax import checked_phone, is_email

CHECKED = (ContactField.EMAILS, ContactField.PHONES)
# Any of these is a name a person could be told apart by.
NAMES = (
    ContactField.FULL_NAME,
    ContactField.GIVEN_NAME,
    ContactField.FAMILY_NAME,
    ContactField.NICKNAME,
    ContactField.ORGANIZATION,
)
INVALID_VALUES = "invalid_values"
NO_IDENTITY = "no_identity"


@dataclass
class CheckedPage:
    """What a page's checks keep, set aside and drop."""

    kept: list[Contact] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    # Per record whose values were dropped: its id and how many of each field.
    dropped: list[tuple[str, dict[ContactField, int]]] = field(default_factory=list)
    quarantined_for: Counter[str] = field(default_factory=Counter)  # by INVALID_VALUES, ...

    def dropped_in(self, name: ContactField) -> int:
        return sum(counts.get(name, 0) for _, counts in self.dropped)


def check_page(
    contacts: Iterable[Contact], rules: ValuesSpec, identity: tuple[IdentityKey, ...]
) -> CheckedPage:
    page = CheckedPage()
    for contact in contacts:
        checked, dropped = checked_values(contact, rules)
        if dropped and rules.invalid is InvalidValues.QUARANTINE:
            page.quarantined.append(
                Quarantined(contact.source, contact.item_id, _invalid_reason(dropped))
            )
            page.quarantined_for[INVALID_VALUES] += 1
            continue
        if not checked.identity(identity) and not any(checked.fields.get(n) for n in NAMES):
            page.quarantined.append(
                Quarantined(
                    contact.source,
                    contact.item_id,
                    "no identity value ("
                    + ", ".join(identity)
                    + ") and no name: it could be merged with no one and shown as no one",
                )
            )
            page.quarantined_for[NO_IDENTITY] += 1
            continue
        if dropped:
            page.dropped.append((contact.item_id, dropped))
        page.kept.append(checked)
    return page


def checked_values(contact: Contact, rules: ValuesSpec) -> tuple[Contact, dict[ContactField, int]]:
    """``contact`` with its invalid emails and phones dropped (and phones normalized when
    the rules say so), and how many of each field were dropped."""
    checks: dict[ContactField, Callable[[str], str | None]] = {
        ContactField.EMAILS: lambda text: text if is_email(text) else None,
        ContactField.PHONES: lambda text: checked_phone(text, rules.phones),
    }
    fields = dict(contact.fields)
    dropped: dict[ContactField, int] = {}
    for name, check in checks.items():
        value = fields.get(name)
        if value is None:
            continue
        kept, invalid = _checked(value, check)
        if invalid:
            dropped[name] = invalid
        if kept is None:
            del fields[name]
        else:
            fields[name] = kept
    if fields == dict(contact.fields):
        return contact, dropped
    return replace(contact, fields=fields), dropped


def _checked(
    value: FieldValue, check: Callable[[str], str | None]
) -> tuple[FieldValue | None, int]:
    """The values that pass ``check`` (as it rewrites them), None when none do, and how many
    did not. Unchanged values keep their form, so a record's content hash stays the same."""
    typed = as_typed(value)
    passed = [(t, check(t.value)) for t in typed]
    invalid = sum(1 for _, written in passed if written is None)
    if invalid == 0 and all(t.value == written for t, written in passed):
        return value, 0
    kept: list[Typed] = [replace(t, value=w) for t, w in passed if w is not None]
    # Two numbers written differently may be one once normalized: one value, both typings.
    merged = united_values(kept)
    return (merged or None), invalid


def _invalid_reason(dropped: dict[ContactField, int]) -> str:
    parts = [f"{count} of {name} not valid" for name, count in dropped.items()]
    return "values that are not what their field says: " + ", ".join(parts)
