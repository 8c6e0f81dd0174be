"""vCard 4.0 (RFC 6350) and 3.0 (RFC 2426, with 2.1's quirks) read into the canonical contact.

Parsing applies the FieldPolicy while it reads: a property that feeds no allowed field is
never even decoded, so nothing else leaves this module. Errors say what is wrong and on
which line, never a value. The content-line codec is our own (standard library only):
vobject, the usual choice, truncates values at the first comma on a read/serialize round
trip and knows no vCard 4.0, which is exactly the silent field loss sync users complain of.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.model import Contact, FieldPolicy, FieldValue
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.contacts.vcard_types import LABEL_PROPERTY, read_typed

SUPPORTED_VERSIONS = frozenset({"2.1", "3.0", "4.0"})
ADDRESS_COMPONENTS = 7  # pobox;ext;street;locality;region;code;country


class MalformedVCard(ValueError):
    """The card cannot be read. The message names the problem and the line, never a value."""


# --- content lines -----------------------------------------------------------------------

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_NAME = re.compile(r"(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)")  # optional group, then the name
_ENCODINGS = frozenset({"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"})


class ContentLine(NamedTuple):
    """One unfolded property: its value still escaped and in its transfer encoding. (A named
    tuple: a card is a dozen of these, and a tuple is made several times faster than a
    frozen dataclass.)"""

    number: int  # physical line where it starts, for error messages
    name: str  # upper case, group removed
    params: Mapping[str, tuple[str, ...]]  # upper-case names; 2.1's bare values filed by kind
    raw: bytes
    eight_bit_charset: bool  # input came as bytes, so a CHARSET parameter applies to them
    group: str | None = None  # upper case: Apple's "item1." ties a value to its X-ABLabel

    @property
    def where(self) -> str:
        return f"line {self.number} ({_shown(self.name)})"

    def text(self) -> str:
        """The value decoded from quoted-printable and its charset; escapes are kept."""
        encodings = {value.upper() for value in self.params.get("ENCODING", ())}
        charset = (self.params.get("CHARSET") or ("utf-8",))[0]
        raw = self.raw
        if "QUOTED-PRINTABLE" in encodings:
            raw = quopri.decodestring(raw)
        elif not self.eight_bit_charset:
            charset = "utf-8"
        try:
            return raw.decode(charset)
        except LookupError:
            raise MalformedVCard(f"{self.where}: unknown charset") from None
        except UnicodeDecodeError:
            raise MalformedVCard(f"{self.where}: value is not valid in its charset") from None

    def is_binary(self) -> bool:
        return bool({v.upper() for v in self.params.get("ENCODING", ())} & {"B", "BASE64"})


def _shown(name: str) -> str:
    # Only names of the standard properties we read appear in errors: any other name might
    # be text a person typed into a broken line.
    return name if name in _READERS or name in {"BEGIN", "END", "VERSION", "UID"} else "a property"


def content_lines(data: str | bytes, *, first_line: int = 1) -> Iterator[ContentLine]:
    """Unfold and tokenize every line; raise MalformedVCard on a line that is no property.

    Lines are numbered from ``first_line``: a card cut from a file of many is numbered as
    the file's lines are, so an error names the line a person finds in the file."""
    eight_bit = isinstance(data, bytes)
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    for number, line in _logical_lines(raw, first_line):
        yield _content_line(number, line, eight_bit)


def _logical_lines(data: bytes, first_line: int = 1) -> Iterator[tuple[int, bytes]]:
    # Unfolding on bytes, before decoding, so a fold inside a UTF-8 sequence still joins.
    # Linear in the card's size: whether a line is quoted-printable is decided once its
    # header (up to the first ':') is complete, not by searching the growing value at every
    # soft break.
    current: bytearray | None = None
    header_open = quoted_printable = False
    start = 0
    for number, line in enumerate(_LINE_BREAK.split(data), start=first_line):
        if current is not None and line[:1] in (b" ", b"\t"):
            current += line[1:]
            if header_open and b":" in line:  # a header folded before its ':'
                header_open = False
                quoted_printable = _is_quoted_printable(current)
        elif current is not None and quoted_printable and current.endswith(b"="):
            current[-1:] = line  # quoted-printable soft break: the value goes on unindented
        else:
            if current:
                yield start, bytes(current)
            current, start = bytearray(line), number
            header_open = b":" not in line
            quoted_printable = not header_open and _is_quoted_printable(line)
    if current:
        yield start, bytes(current)


def _is_quoted_printable(line: bytes | bytearray) -> bool:
    """Whether the header (name and parameters, up to the first ':') says quoted-printable."""
    colon = line.find(b":")
    return colon >= 0 and b"QUOTED-PRINTABLE" in line[:colon].upper()


def _value_start(number: int, line: bytes) -> int:
    """Index of the ':' that ends name and parameters (a quoted parameter may hold ':')."""
    colon = line.find(b":")
    if colon >= 0 and line.find(b'"', 0, colon) < 0:
        return colon  # no quote before it: the common case, found without a Python loop
    quoted = False
    for index, byte in enumerate(line):
        if byte == 0x22:  # '"'
            quoted = not quoted
        elif byte == 0x3A and not quoted:  # ':'
            return index
    problem = "unterminated quoted parameter" if quoted else "not a property line"
    raise MalformedVCard(f"line {number}: {problem}")


def _content_line(number: int, line: bytes, eight_bit: bool) -> ContentLine:
    index = _value_start(number, line)
    try:
        header = line[:index].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedVCard(f"line {number}: parameters are not valid UTF-8") from None
    parts = _split_outside_quotes(header, ";")
    match = _NAME.fullmatch(parts[0].strip())
    if match is None:
        raise MalformedVCard(f"line {number}: invalid property name")
    group, name = match.group(1), match.group(2).upper()
    params: dict[str, list[str]] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        key = key.strip().upper()
        if not key:
            raise MalformedVCard(f"line {number} ({_shown(name)}): empty parameter name")
        if not sep:  # vCard 2.1: "TEL;WORK;VOICE", "PHOTO;JPEG;BASE64"
            params.setdefault("ENCODING" if key in _ENCODINGS else "TYPE", []).append(key)
            continue
        params.setdefault(key, []).extend(
            piece.strip().strip('"') for piece in _split_outside_quotes(value, ",")
        )
    frozen = {key: tuple(values) for key, values in params.items()}
    return ContentLine(
        number, name, frozen, line[index + 1 :], eight_bit, group.upper() if group else None
    )


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    if '"' not in text:
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# --- escaping ----------------------------------------------------------------------------

_UNESCAPES = {"n": "\n", "N": "\n", "\\": "\\", ",": ",", ";": ";", ":": ":"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def unescape(text: str) -> str:
    """Undo vCard text escaping; an unknown escape is kept as written."""
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), text)


def escape(text: str) -> str:
    """vCard text escaping (RFC 6350 §3.4): backslash, newline, comma, semicolon."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for plain, escaped in (("\\", "\\\\"), ("\n", "\\n"), (",", "\\,"), (";", "\\;")):
        text = text.replace(plain, escaped)
    return text


def split_escaped(text: str, separator: str) -> list[str]:
    """Split at separators that are not escaped; the pieces keep their escapes."""
    if "\\" not in text:
        return text.split(separator)
    parts: list[str] = []
    start = index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == separator:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def _values(text: str) -> list[str]:
    return [v for v in (unescape(p).strip() for p in split_escaped(text, ",")) if v]


def address_text(components: Sequence[Sequence[str]]) -> str:
    """The canonical text of an address from its components' values (each may be several)."""
    padded = [*components, *([()] * ADDRESS_COMPONENTS)][:ADDRESS_COMPONENTS]
    return ";".join(",".join(escape(value) for value in values) for values in padded)


def address_components(text: str) -> list[list[str]]:
    """The inverse of address_text: seven components, each a list of values."""
    pieces = [*split_escaped(text, ";"), *([""] * ADDRESS_COMPONENTS)][:ADDRESS_COMPONENTS]
    return [_values(piece) for piece in pieces]


# --- reading -----------------------------------------------------------------------------


class _Fields:
    """Collects values for allowed fields only; the first value of a single field wins.

    ``labels`` holds the X-ABLabel line of each Apple group, decoded only when a value of
    an allowed field in that group asks for it.
    """

    def __init__(self, allowed: frozenset[F], labels: Mapping[str, ContentLine]) -> None:
        self.allowed = allowed
        self.labels = labels
        self.single: dict[F, str] = {}
        self.multi: dict[F, list[str | Typed]] = {}

    def put(self, field: F, value: str) -> None:
        if field in self.allowed and value and field not in self.single:
            self.single[field] = value

    def add(self, field: F, values: Iterable[str]) -> None:
        if field in self.allowed:
            self.multi.setdefault(field, []).extend(v for v in values if v)

    def add_typed(self, field: F, line: ContentLine, value: str) -> None:
        if field not in self.allowed or not value:
            return
        label_line = self.labels.get(line.group) if line.group else None
        label = unescape(label_line.text()).strip() if label_line else None
        typed = read_typed(line.name, value, line.params, label)
        self.multi.setdefault(field, []).append(typed)

    def result(self) -> dict[F, FieldValue]:
        out: dict[F, FieldValue] = dict(self.single)
        out.update({k: tuple(v) for k, v in self.multi.items() if v})
        return out


def _read_n(out: _Fields, line: ContentLine) -> None:
    family, given, additional = [*split_escaped(line.text(), ";"), "", "", ""][:3]
    out.put(F.FAMILY_NAME, ",".join(_values(family)))
    out.put(F.GIVEN_NAME, ",".join(_values(given)))
    out.add(F.ADDITIONAL_NAMES, _values(additional))


def _read_org(out: _Fields, line: ContentLine) -> None:
    units = [unescape(unit).strip() for unit in split_escaped(line.text(), ";")]
    out.put(F.ORGANIZATION, units[0])
    out.put(F.DEPARTMENT, units[1] if len(units) > 1 else "")


def _read_tel(out: _Fields, line: ContentLine) -> None:
    number = unescape(line.text()).strip()
    if number[:4].lower() == "tel:":  # 4.0 "VALUE=uri:tel:+49...;ext=2" keeps "+49...;ext=2"
        number = number[4:]
    out.add_typed(F.PHONES, line, number)


def _read_adr(out: _Fields, line: ContentLine) -> None:
    components = address_components(line.text())
    if any(components):
        out.add_typed(F.ADDRESSES, line, address_text(components))


def _read_photo(out: _Fields, line: ContentLine) -> None:
    if line.is_binary():
        media = _media_type(line.params.get("TYPE", ()))
        out.put(F.PHOTO, _data_uri(line, media, _b64decode(line, line.text())))
        return
    uri = unescape(line.text()).strip()
    if uri[:5].lower() == "data:":
        header, comma, payload = uri[5:].partition(",")
        if not comma:
            raise MalformedVCard(f"{line.where}: invalid data URI")
        media, *options = header.split(";")
        data = (
            _b64decode(line, payload)
            if "base64" in (o.strip().lower() for o in options)
            else unquote_to_bytes(payload)
        )
        uri = _data_uri(line, media.strip().lower() or "application/octet-stream", data)
    out.put(F.PHOTO, uri)


def _b64decode(line: ContentLine, text: str) -> bytes:
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedVCard(f"{line.where}: invalid base64 data") from None


def _media_type(types: Sequence[str]) -> str | None:
    for kind in types:
        if "/" in kind:
            return kind.lower()
        if kind and kind.upper() not in {"HOME", "WORK", "PREF"}:
            return f"image/{kind.lower()}"
    return None


_SIGNATURES = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _data_uri(line: ContentLine, media: str | None, data: bytes) -> str:
    if not data:
        raise MalformedVCard(f"{line.where}: empty inline data")
    if media is None:
        media = next((m for sig, m in _SIGNATURES if data.startswith(sig)), None)
    return f"data:{media or 'application/octet-stream'};base64,{base64.b64encode(data).decode()}"


def _text_reader(field: F) -> Callable[[_Fields, ContentLine], None]:
    def read(out: _Fields, line: ContentLine) -> None:
        value = unescape(line.text()).strip()
        if field in (F.EMAILS, F.URLS):
            out.add_typed(field, line, value)
        else:
            out.put(field, value)

    return read


def _list_reader(field: F, joined: bool) -> Callable[[_Fields, ContentLine], None]:
    def read(out: _Fields, line: ContentLine) -> None:
        values = _values(line.text())
        if joined:  # one text field in the model, a list in vCard
            out.put(field, ",".join(values))
        else:
            out.add(field, values)

    return read


# Property -> the fields it feeds, and how to read it.
_READERS: dict[str, tuple[frozenset[F], Callable[[_Fields, ContentLine], None]]] = {
    "FN": (frozenset({F.FULL_NAME}), _text_reader(F.FULL_NAME)),
    "N": (frozenset({F.FAMILY_NAME, F.GIVEN_NAME, F.ADDITIONAL_NAMES}), _read_n),
    "NICKNAME": (frozenset({F.NICKNAME}), _list_reader(F.NICKNAME, joined=True)),
    "EMAIL": (frozenset({F.EMAILS}), _text_reader(F.EMAILS)),
    "TEL": (frozenset({F.PHONES}), _read_tel),
    "ADR": (frozenset({F.ADDRESSES}), _read_adr),
    "ORG": (frozenset({F.ORGANIZATION, F.DEPARTMENT}), _read_org),
    "TITLE": (frozenset({F.TITLE}), _text_reader(F.TITLE)),
    "BDAY": (frozenset({F.BIRTHDAY}), _text_reader(F.BIRTHDAY)),
    "NOTE": (frozenset({F.NOTE}), _text_reader(F.NOTE)),
    "URL": (frozenset({F.URLS}), _text_reader(F.URLS)),
    "PHOTO": (frozenset({F.PHOTO}), _read_photo),
    "CATEGORIES": (frozenset({F.CATEGORIES}), _list_reader(F.CATEGORIES, joined=False)),
}


def card_lines(data: str | bytes, *, first_line: int = 1) -> list[ContentLine]:
    """The properties between BEGIN:VCARD and END:VCARD of a resource holding one card."""
    lines: list[ContentLine] = []
    state = "before"
    for line in content_lines(data, first_line=first_line):
        is_vcard = line.raw.strip().upper() == b"VCARD"
        if state == "before":
            if line.name != "BEGIN" or not is_vcard:
                raise MalformedVCard(f"line {line.number}: expected BEGIN:VCARD")
            state = "inside"
        elif state == "after":
            raise MalformedVCard(f"line {line.number}: content after END:VCARD")
        elif line.name == "BEGIN":
            raise MalformedVCard(f"line {line.number}: nested BEGIN inside a vCard")
        elif line.name == "END":
            if not is_vcard:
                raise MalformedVCard(f"line {line.number}: END of something other than VCARD")
            state = "after"
        else:
            lines.append(line)
    if state == "before":
        raise MalformedVCard("no BEGIN:VCARD found")
    if state == "inside":
        raise MalformedVCard("missing END:VCARD")
    return lines


def parse_vcard(
    data: str | bytes, policy: FieldPolicy, *, source: str, item_id: str, first_line: int = 1
) -> Contact:
    """One card as a minimized Contact: only ``policy.allowed`` fields, consent, UID.

    ``first_line``: the number of the card's first line, where errors count lines from."""
    lines = card_lines(data, first_line=first_line)
    labels: dict[str, ContentLine] = {}
    for line in lines:
        if line.name == LABEL_PROPERTY and line.group:
            labels.setdefault(line.group, line)
    out = _Fields(policy.allowed, labels)
    uid: str | None = None
    consent: list[str] | None = None
    consent_name = policy.consent_property.upper() if policy.consent_property else None
    for line in lines:
        if line.name == "VERSION" and line.raw.strip().decode("ascii", "replace") not in (
            SUPPORTED_VERSIONS
        ):
            raise MalformedVCard(f"{line.where}: unsupported vCard version")
        if line.name == consent_name:
            consent = [*(consent or ()), unescape(line.text())]
        if line.name == "UID" and uid is None:
            uid = unescape(line.text()).strip() or None
        reader = _READERS.get(line.name)
        if reader is not None and reader[0] & policy.allowed:
            reader[1](out, line)
    return Contact(
        source=source,
        item_id=item_id,
        fields=out.result(),
        uid=uid if IdentityKey.UID in policy.identity else None,
        carried_uid=uid,
        consent=tuple(consent) if consent is not None else None,
    )


def read_properties(data: str | bytes, names: Iterable[str]) -> dict[str, list[str]]:
    """Unescaped values of the named properties, e.g. our own X-CONTACTSYNC-* markers."""
    wanted = {name.upper() for name in names}
    found: dict[str, list[str]] = {}
    for line in card_lines(data):
        if line.name in wanted:
            found.setdefault(line.name, []).append(unescape(line.text()).strip())
    return found
