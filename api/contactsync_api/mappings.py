"""A source's mapping: which CSV column, JSON Lines key or LDAP attribute feeds which field.

A spec writes ``mapping: {preset: google-csv}``, explicit ``entries``, or both (an entry
replaces the preset's entries of the same name). Unset, a source reads what it read before
mappings existed: a file's columns and keys by the canonical field names
(``fullName``, ``phones.cell``, ...), an LDAP directory by inetOrgPerson's attributes.

The model resolves to a :class:`SourceMapping` of :class:`Target`\\ s, plain data the
worker's readers apply (``contactsync_worker.sources.mapped_values``); the presets are
tables of targets (``mapping_presets``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from contactsync_api.mapping_presets import FILE_DEFAULT, FILE_PRESETS, LDAP_PRESETS
from contactsync_api.mapping_targets import (
    MAX_ENTRIES,
    TYPE_WORD_PATTERN,
    TYPED_FIELD_NAMES,
    AddressComponent,
    FilePreset,
    LdapPreset,
    MappedField,
    SourceMapping,
    Target,
)
from contactsync_api.rules import Rule, RuledModel, RuleViolation
from contactsync_api.values import SpecModel

TypeToken = Annotated[str, StringConstraints(pattern=TYPE_WORD_PATTERN, max_length=32)]
SourceName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
_IS_TYPED = "self.field in [" + ", ".join(f"'{n}'" for n in TYPED_FIELD_NAMES) + "]"


class MappingEntry(RuledModel, SpecModel):
    """One column, key or attribute and the field it feeds."""

    rules = (
        Rule(
            cel=f"(!has(self.types) || size(self.types) == 0) || {_IS_TYPED}",
            message="types apply to the typed fields only: emails, phones, addresses, urls",
            holds=lambda m: not m.types or m.field in TYPED_FIELD_NAMES,
            field_path=".types",
        ),
        Rule(
            cel=f"!has(self.typeFrom) || {_IS_TYPED}",
            message="typeFrom applies to the typed fields only: emails, phones, addresses, urls",
            holds=lambda m: m.type_from is None or m.field in TYPED_FIELD_NAMES,
            field_path=".typeFrom",
        ),
        Rule(
            cel="!has(self.component) || self.field == 'addresses'",
            message="component applies to the field addresses only",
            holds=lambda m: m.component is None or m.field == MappedField.ADDRESSES,
            field_path=".component",
        ),
    )

    name: SourceName = Field(
        description=(
            "The CSV column (matched ignoring case), JSON Lines key (exact) or LDAP "
            "attribute (ignoring case) to read."
        )
    )
    field: MappedField = Field(
        description="The contact field it feeds (one of spec.fields' names), or id or uid."
    )
    types: Annotated[list[TypeToken], Field(max_length=8)] | None = Field(
        default=None,
        description=(
            "Types given to each value of a typed field (emails, phones, addresses, urls): "
            "vCard words such as work, home, cell, voice, fax; pref marks the preferred value."
        ),
    )
    type_from: SourceName | None = Field(
        default=None,
        description=(
            "A column or key whose text gives each value's types, as an export writes them "
            "('* Work', 'Mobile', 'Home Fax'; '*' marks the preferred value). Text that is "
            "no known type becomes the value's label."
        ),
    )
    component: AddressComponent | None = Field(
        default=None,
        description=(
            "For addresses: the part of an address this column holds. Parts with the same "
            "types and typeFrom form one address."
        ),
    )

    def target(self) -> Target:
        return Target(
            self.name,
            self.field,
            tuple(self.types or ()),
            (self.type_from,) if self.type_from else (),
            self.component,
        )


class _Mapping(RuledModel, SpecModel):
    entries: Annotated[list[MappingEntry], Field(max_length=MAX_ENTRIES)] | None = Field(
        default=None,
        description=(
            "Columns, keys or attributes and the fields they feed; an entry replaces the "
            "preset's entries of the same name."
        ),
    )

    def check_invariants(self) -> None:
        seen: set[str] = set()
        for entry in self.entries or ():
            key = entry.name.strip().lower()
            if key in seen:
                raise RuleViolation(f"mapping names {entry.name!r} twice", ".entries")
            seen.add(key)

    def _resolve(self, base: SourceMapping) -> SourceMapping:
        entries = self.entries or []
        named = {e.name.strip().lower() for e in entries}
        kept = tuple(t for t in base.targets if t.name.strip().lower() not in named)
        targets = kept + tuple(e.target() for e in entries)
        return SourceMapping(targets, base.canonical, base.separator, base.preset)


class FileMapping(_Mapping):
    """How a CSV file's columns or a JSON Lines file's keys map to fields."""

    preset: FilePreset | None = Field(
        default=None,
        description=(
            "A built-in mapping: google-csv (a Google Contacts CSV export) or outlook-csv "
            "(an Outlook CSV export); docs/worker.md lists their columns."
        ),
    )

    def resolved(self) -> SourceMapping:
        return self._resolve(FILE_PRESETS[self.preset] if self.preset else FILE_DEFAULT)


class LdapMapping(_Mapping):
    """How an LDAP entry's attributes map to fields."""

    preset: LdapPreset | None = Field(
        default=None,
        description=(
            "A built-in mapping: inetorgperson (OpenLDAP's inetOrgPerson, RFC 2798; the "
            "default) or active-directory (Active Directory's user); docs/worker.md lists "
            "their attributes."
        ),
    )

    def resolved(self) -> SourceMapping:
        return self._resolve(LDAP_PRESETS[self.preset or LdapPreset.INET_ORG_PERSON])


def file_mapping(mapping: FileMapping | None) -> SourceMapping:
    return mapping.resolved() if mapping else FILE_DEFAULT


def ldap_mapping(mapping: LdapMapping | None) -> SourceMapping:
    return (mapping or LdapMapping()).resolved()
