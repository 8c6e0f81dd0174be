"""The canonical contact written as a vCard 3.0 or 4.0 (``vcard`` reads them).

Every value is escaped so that no value can end its line or start a property of its own;
lines are folded at 75 octets without splitting a UTF-8 sequence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from contactsync_api.endpoints.carddav import VCardVersion
from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldValue
from contactsync_worker.contacts.photo import InvalidPhoto, parse_data_uri
from contactsync_worker.contacts.typed import Typed, as_typed, texts
from contactsync_worker.contacts.vcard import address_components, address_text, escape
from contactsync_worker.contacts.vcard_types import grouped_label, type_parameters

# The versions a destination may ask for, as the spec names them.
Version = VCardVersion


_DATE_LIKE = re.compile(r"[0-9TZ:+.\-]+")
# A global or local number, then parameters such as ";ext=102" (RFC 3966, without spaces).
_TEL_URI_BODY = re.compile(r"\+?[0-9*#().-]*[0-9][0-9*#().-]*(?:;[A-Za-z-]+=[0-9A-Za-z*#().+-]+)*")


def serialize_vcard(
    fields: Mapping[F, FieldValue],
    *,
    uid: str | None = None,
    version: Version = "4.0",
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """A card holding exactly ``fields`` (plus ``extra`` properties), folded, CRLF-terminated."""

    def one(field: F) -> str:
        value = fields.get(field)
        return value if isinstance(value, str) else ",".join(texts(value))

    def many(field: F) -> tuple[str, ...]:
        return texts(fields.get(field))

    groups = (f"item{n}." for n in itertools.count(1))

    def typed(name: str, field: F, render: Callable[[str], tuple[str, str]]) -> list[str]:
        return _typed_lines(name, as_typed(fields.get(field)), version, groups, render)

    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if uid:
        lines.append(f"UID:{escape(uid)}")
    lines.append(f"FN:{escape(one(F.FULL_NAME))}")  # FN is required in 3.0 and 4.0
    names = (one(F.FAMILY_NAME), one(F.GIVEN_NAME), many(F.ADDITIONAL_NAMES))
    if any(names) or version == "3.0":  # N is required in 3.0
        additional = ",".join(escape(v) for v in names[2])
        lines.append(f"N:{escape(names[0])};{escape(names[1])};{additional};;")
    if one(F.NICKNAME):
        lines.append(f"NICKNAME:{escape(one(F.NICKNAME))}")
    lines += typed("EMAIL", F.EMAILS, lambda v: ("", escape(v)))
    lines += typed("TEL", F.PHONES, lambda v: _tel(v, version))
    lines += typed("ADR", F.ADDRESSES, lambda v: ("", address_text(address_components(v))))
    if one(F.ORGANIZATION) or one(F.DEPARTMENT):
        department = f";{escape(one(F.DEPARTMENT))}" if one(F.DEPARTMENT) else ""
        lines.append(f"ORG:{escape(one(F.ORGANIZATION))}{department}")
    if one(F.TITLE):
        lines.append(f"TITLE:{escape(one(F.TITLE))}")
    if birthday := one(F.BIRTHDAY):
        free_text = version == "4.0" and not _DATE_LIKE.fullmatch(birthday)
        lines.append(f"BDAY{';VALUE=text' if free_text else ''}:{escape(birthday)}")
    if one(F.NOTE):
        lines.append(f"NOTE:{escape(one(F.NOTE))}")
    lines += typed("URL", F.URLS, lambda v: ("", _uri(v, version)))
    if one(F.PHOTO):
        lines.append(_photo(one(F.PHOTO), version))
    if many(F.CATEGORIES):
        lines.append("CATEGORIES:" + ",".join(escape(v) for v in many(F.CATEGORIES)))
    lines += [f"{name.upper()}:{escape(value)}" for name, value in extra]
    lines.append("END:VCARD")
    return "".join(fold(line) + "\r\n" for line in lines)


def _typed_lines(
    name: str,
    values: Sequence[Typed],
    version: Version,
    groups: Iterator[str],
    render: Callable[[str], tuple[str, str]],
) -> list[str]:
    """One property per value, with its types; a label an Apple group carries goes in a
    group of its own (``item1.TEL…`` and ``item1.X-ABLabel:…``)."""
    ranks = [v.pref for v in values if v.pref is not None]
    best = min(ranks) if ranks else None
    lines: list[str] = []
    for value in values:
        value_param, text = render(value.value)
        params = value_param + type_parameters(name, value, version, best)
        label = grouped_label(name, value)
        group = next(groups) if label else ""
        lines.append(f"{group}{name}{params}:{text}")
        if label:
            lines.append(f"{group}X-ABLabel:{escape(label)}")
    return lines


def _tel(number: str, version: Version) -> tuple[str, str]:
    # 4.0 writes a number that is a tel: URI's body (no spaces: "+46-8-987;ext=102") as the
    # URI it came from; anything else stays text, as 3.0 always does, so values come back
    # exactly as they went.
    if version == "4.0" and _TEL_URI_BODY.fullmatch(number):
        return ";VALUE=uri", f"tel:{number}"
    return "", escape(number)


def _uri(uri: str, version: Version) -> str:
    # vobject-based servers (Radicale) read every card by 3.0's rules and cut a value at its
    # first unescaped comma: an inline PHOTO's data: URI would lose its payload. 3.0 escapes
    # URIs like text; 4.0 escapes the backslash and the comma, as RFC 6350 §3.4 asks of any
    # value, and leaves the semicolons and colons a URI is made of.
    if version == "3.0":
        return escape(uri)
    return uri.replace("\r", "").replace("\n", "").replace("\\", "\\\\").replace(",", "\\,")


def _photo(photo: str, version: Version) -> str:
    if version == "3.0" and photo.startswith("data:"):
        try:
            media, payload = parse_data_uri(photo)
        except InvalidPhoto:
            pass  # not written raw: the escaped URI below cannot start another property
        else:
            return f"PHOTO;ENCODING=b;TYPE={media.removeprefix('image/').upper()}:{payload}"
    return f"PHOTO{';VALUE=uri' if version == '3.0' else ''}:{_uri(photo, version)}"


def fold(line: str, limit: int = 75) -> str:
    """Fold at ``limit`` octets (RFC 6350 §3.2) without splitting a UTF-8 sequence."""
    if len(line.encode("utf-8")) <= limit:
        return line
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        room = limit if not chunks else limit - 1  # a continuation starts with a space
        if size + width > room:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    chunks.append("".join(current))
    return "\r\n ".join(chunks)
