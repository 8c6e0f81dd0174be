"""LDAP entries as contacts: which attributes a search asks for and how they map.

Which attribute feeds which field is the source's mapping (``contactsync_api.mappings``):
inetOrgPerson's attributes (RFC 2798; the ``inetorgperson`` preset) unless the spec picks
``active-directory`` or names attributes itself. A single-valued field takes the first
value of the first attribute that has one (fullName: displayName, the name meant for
display, before cn); ``note`` joins every value by newlines. Values are read as an
attribute's syntax has them:

    phones      the number without RFC 4517 fax parameters ("number $ fax-parameter")
    addresses   a PostalAddress ("line $ line") becomes the ADR street; address parts
                (AD's streetAddress, l, st, postalCode, co) with equal types form one ADR
    urls        labeledURI's "URI label": the URI, with the text after it as the label
    photo       a JPEG (jpegPhoto, AD's thumbnailPhoto), as data:image/jpeg;base64,...

The same value under two attributes is one value with both attributes' types. An
attribute is matched under any of its names (a server answers a search for
streetAddress with street). When fullName is allowed and no attribute holds it, the
given, additional and family names make it.

uid (identity key ``uid``) is the ``uid`` attribute, the login other systems share (an
attribute the mapping maps to uid comes first);
it is read only when ``uid`` is an identity key.

item_id is the entry's ``entryUUID`` (RFC 4530): a rename or a move to another OU
changes the DN but not the UUID, so it stays one contact instead of a delete plus a
create, and a UUID names no one. Servers without entryUUID (Active Directory) fall
back to the DN.

An entry that cannot be mapped (an attribute not UTF-8, a photo that is no JPEG, no
full name while fullName is allowed) is quarantined under its entryUUID,
or under ``dn-sha256:<16 hex>`` when it has none: a DN usually holds a name.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence

from contactsync_api.fields import ContactField, IdentityKey
from contactsync_api.mapping_presets import INET_ORG_PERSON
from contactsync_api.mapping_targets import MappedField, SourceMapping, Target
from contactsync_worker.contacts.model import Contact, FieldPolicy, FieldValue, Quarantined
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed, united_values
from contactsync_worker.sources.mapped_values import mapped_values

ENTRY_UUID = "entryUUID"
UID = "uid"
_FIRST_VALUE = {
    ContactField.GIVEN_NAME,
    ContactField.FAMILY_NAME,
    ContactField.ORGANIZATION,
    ContactField.DEPARTMENT,
    ContactField.TITLE,
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_POSTAL_ESCAPE = re.compile(r"\\(24|5c)", re.IGNORECASE)

Attributes = Mapping[str, list[bytes]]
# Second names of attributes a mapping may read (RFC 4519, RFC 4524, RFC 2798): a server
# names an attribute in its answer by whichever name its schema lists first.
_ALIASES = {
    "streetaddress": "street",
    "localityname": "l",
    "stateorprovincename": "st",
    "surname": "sn",
    "commonname": "cn",
    "organizationname": "o",
    "organizationalunitname": "ou",
    "countryname": "c",
    "rfc822mailbox": "mail",
    "userid": "uid",
    "friendlycountryname": "co",
    "mobiletelephonenumber": "mobile",
    "pagertelephonenumber": "pager",
    "hometelephonenumber": "homephone",
    "fax": "facsimiletelephonenumber",
}


class Unmappable(ValueError):
    """An entry cannot become a Contact; the message names attributes, never values."""


def requested_attributes(
    policy: FieldPolicy, mapping: SourceMapping = INET_ORG_PERSON
) -> list[str]:
    """The attributes a search asks for under ``policy``: nothing a field does not need."""
    # uid whatever spec.identity says: an erasure by uid must find the person.
    wanted = {ENTRY_UUID, UID}
    for target in field_targets(policy, mapping):
        wanted.add(target.name)
        wanted.update(target.type_from)
    if policy.consent_property:
        wanted.add(policy.consent_property)
    return sorted(dict.fromkeys(wanted), key=str.lower)


def field_targets(policy: FieldPolicy, mapping: SourceMapping) -> tuple[Target, ...]:
    """The mapping's targets read under ``policy``: those of allowed fields, the name parts
    a missing full name is made of, and uid."""
    wanted = set(policy.allowed)
    if ContactField.FULL_NAME in wanted:
        wanted |= {ContactField.GIVEN_NAME, ContactField.ADDITIONAL_NAMES}
        wanted.add(ContactField.FAMILY_NAME)
    return tuple(
        t for t in mapping.targets if t.field is MappedField.UID or t.field.contact_field in wanted
    )


def fed_attributes(policy: FieldPolicy, mapping: SourceMapping) -> list[str]:
    """The attributes the mapping reads into allowed fields, for messages."""
    names = (
        t.name
        for t in field_targets(policy, mapping)
        if t.field.contact_field is not None
        and (t.field.contact_field in policy.allowed or ContactField.FULL_NAME in policy.allowed)
    )
    return list(dict.fromkeys(names))


def unmapped_page(entries: Sequence[tuple[str, Attributes]], fed: Sequence[str]) -> str | None:
    """Why a first page's entries cannot be this mapping's: none holds an attribute it reads
    into an allowed field (``fed``), so the directory's schema is another. None: some does.
    Names attributes, never a value or a DN."""
    keys = {attribute_key(name) for name in fed}
    held = {name.split(";", 1)[0] for _, a in entries for name, values in a.items() if values}
    if not entries or keys & {attribute_key(name) for name in held}:
        return None
    return (
        f"none of the {len(entries)} entries of the first page has an attribute the mapping "
        f"reads into an allowed field (spec.fields); they hold "
        f"{', '.join(sorted(held, key=str.lower)) or 'no attribute asked for'}; the mapping "
        f"reads {', '.join(fed) or 'nothing for the allowed fields'}; set the source's "
        "mapping (a preset or entries) to the directory's attributes"
    )


def is_entry_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


class EntryMapper:
    """Raw attributes of one entry of source ``source`` → a Contact under ``policy``."""

    def __init__(
        self, source: str, policy: FieldPolicy, mapping: SourceMapping = INET_ORG_PERSON
    ) -> None:
        self.source = source
        self._policy = policy
        self._targets = field_targets(policy, mapping)
        self._uid_names = tuple(t.name for t in self._targets if t.field is MappedField.UID)

    def record(self, dn: str, raw: Attributes) -> Contact | Quarantined:
        """The entry's contact, or its quarantine under a name that names no one."""
        attributes = _by_type(raw)
        uuid = _entry_uuid(attributes)
        item_id = uuid or dn
        try:
            fields = self._fields(attributes)
            uid = next(
                (u for n in (*self._uid_names, UID) if (u := _first(_texts(attributes, n)))), None
            )
            consent = self._consent(attributes)
        except Unmappable as exc:
            pseudonym = uuid or "dn-sha256:" + hashlib.sha256(dn.lower().encode()).hexdigest()[:16]
            return Quarantined(self.source, pseudonym, str(exc))
        merged_on = uid if IdentityKey.UID in self._policy.identity else None
        return Contact(
            self.source, item_id, fields, uid=merged_on, carried_uid=uid, consent=consent
        )

    def _fields(self, attributes: Attributes) -> dict[ContactField, FieldValue]:
        fields: dict[ContactField, FieldValue] = {}
        for field in sorted(self._policy.allowed):
            targets = [t for t in self._targets if t.field.contact_field is field]
            if not targets and field is not ContactField.FULL_NAME:
                continue  # no attribute of the mapping holds it (nickname, birthday, ...)
            value = _field_value(field, targets, attributes)
            if field is ContactField.FULL_NAME and not value:
                value = self._composed_name(attributes)
                if not value:
                    names = " or ".join(t.name for t in targets) or "attribute"
                    raise Unmappable(f"no {names} to take the full name from")
            if value:
                fields[field] = value
        return fields

    def _composed_name(self, attributes: Attributes) -> str | None:
        """The given, additional and family names, when no attribute holds the full name."""
        found = mapped_values(
            (t for t in self._targets if t.field is not MappedField.FULL_NAME),
            lambda name: _texts(attributes, name),
            frozenset({ContactField.FULL_NAME}),
        )
        return found.first(MappedField.FULL_NAME)

    def _consent(self, attributes: Attributes) -> tuple[str, ...] | None:
        prop = self._policy.consent_property
        if not prop or attribute_key(prop) not in attributes:
            return None
        return tuple(_texts(attributes, prop)) or None


def _field_value(
    field: ContactField, targets: list[Target], attributes: Attributes
) -> FieldValue | None:
    names = [t.name for t in targets]
    if field is ContactField.FULL_NAME:
        return next((n for name in names if (n := _first(_texts(attributes, name)))), None)
    if field is ContactField.PHOTO:
        name, photos = next(
            ((n, v) for n in names if (v := attributes.get(attribute_key(n)))), ("", list[bytes]())
        )
        if not photos:
            return None
        if not photos[0].startswith(b"\xff\xd8\xff"):
            raise Unmappable(f"{name} is not a JPEG image")
        return "data:image/jpeg;base64," + base64.b64encode(photos[0]).decode()
    if field in TYPED_FIELDS:
        return _typed_values(field, targets, attributes)
    texts = [t for name in names for t in _texts(attributes, name)]
    if field in _FIRST_VALUE:
        return _first(texts)
    if field is ContactField.NOTE:
        return "\n".join(texts) or None
    return tuple(dict.fromkeys(t for t in texts if t)) or None


def _typed_values(
    field: ContactField, targets: list[Target], attributes: Attributes
) -> tuple[Typed, ...] | None:
    values: list[Typed] = []
    whole = [t for t in targets if t.component is None]
    for target in whole:
        name, types = target.name, target.types
        for text in _texts(attributes, name):
            label = None
            if field is ContactField.ADDRESSES:
                text = _adr_from_postal(text)
            elif field is ContactField.URLS:
                text, _, label = text.partition(" ")  # RFC 2079: "URI label"
            elif field is ContactField.PHONES:
                # RFC 4517's facsimileTelephoneNumber: "number $ fax-parameter".
                text = text.partition("$")[0].strip()
            if text:
                values.append(Typed(text, types, label=label))
    parts = [t for t in targets if t.component is not None]
    if parts:
        found = mapped_values(parts, lambda name: _texts(attributes, name), frozenset({field}))
        values.extend(found.typed.get(field, ()))
    return united_values(values) or None


def _adr_from_postal(value: str) -> str:
    """RFC 4517 PostalAddress ("line $ line", \\24 and \\5C escapes) → vCard ADR, lines in
    the street component, since the lines carry no structure."""
    lines = [
        _POSTAL_ESCAPE.sub(lambda m: "$" if m.group(1) == "24" else "\\", line).strip()
        for line in value.split("$")
    ]
    street = "\n".join(line for line in lines if line)
    if not street:
        return ""
    escaped = (
        street.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")
    )
    return f";;{escaped};;;;"


def attribute_key(name: str) -> str:
    """How an attribute is known whatever name a server or a mapping gives it: without
    its options (cn;lang-de), in lower case, by its first name (a server answers a search
    for streetAddress with street)."""
    base = name.split(";", 1)[0].lower()
    return _ALIASES.get(base, base)


def _by_type(raw: Attributes) -> dict[str, list[bytes]]:
    """Lower-cased attribute type → values; tagged subtypes (cn;lang-de) after the plain one."""
    grouped: dict[str, list[bytes]] = {}
    for name in sorted(raw, key=lambda n: ";" in n):
        grouped.setdefault(attribute_key(name), []).extend(raw[name])
    return grouped


def _texts(attributes: Attributes, name: str) -> list[str]:
    texts: list[str] = []
    for value in attributes.get(attribute_key(name), []):
        try:
            text = value.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Unmappable(f"{name} is not valid UTF-8") from None
        if text:
            texts.append(text)
    return texts


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _entry_uuid(attributes: Attributes) -> str | None:
    values = attributes.get(attribute_key(ENTRY_UUID), [])
    try:
        text = values[0].decode("ascii").lower() if values else ""
    except UnicodeDecodeError:
        return None
    return text if _UUID.fullmatch(text) else None
