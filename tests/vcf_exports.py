""".vcf files as address books export them, for tests of the vcf source.

Each exporter writes what its application writes, as far as a sync can tell: the vCard
version, line endings, how long lines are folded or encoded, which properties it adds.

- Apple Contacts (macOS): vCard 3.0, CRLF, a UID on every card, ``item1.`` groups with
  ``X-ABLabel``, lowercase ``type=`` parameters, a photo folded at 75 octets.
- Google Contacts: vCard 3.0 without UIDs, ``\\:`` in URLs, ``CATEGORIES:myContacts``.
  Written here with LF line endings, so that both line endings are read.
- Outlook: vCard 2.1 behind a byte-order mark, bare parameters (``TEL;WORK;VOICE``),
  quoted-printable values in Windows-1252 or UTF-8 with soft line breaks, no UID.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

NOT_ALLOWED = "NOT-ALLOWED-note-text"
_PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2).decode()


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    email: str
    phone: str
    organization: str
    uid: str = ""
    consent: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"


def fold(line: str, width: int = 75) -> list[str]:
    """RFC 6350 folding: at most ``width`` octets a line, continued after one space."""
    data = line.encode()
    lines: list[str] = []
    while len(data) > width:
        cut = width if not lines else width - 1
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # not inside a UTF-8 sequence
            cut -= 1
        lines.append(data[:cut].decode())
        data = data[cut:]
    lines.append(data.decode())
    return [lines[0], *(f" {rest}" for rest in lines[1:])]


def apple(people: Sequence[Person]) -> bytes:
    cards: list[str] = []
    for p in people:
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "PRODID:-//Apple Inc.//macOS 14.4//EN",
            f"N:{p.family};{p.given};;;",
            f"FN:{p.full_name}",
            f"ORG:{p.organization};",
            f"item1.EMAIL;type=INTERNET;type=pref:{p.email}",
            "item1.X-ABLabel:_$!<Other>!$_",
            f"TEL;type=CELL;type=VOICE;type=pref:{p.phone}",
            f"NOTE:{NOT_ALLOWED}",
            *fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{_PHOTO}"),
            *([f"X-CONSENT:{p.consent}"] if p.consent else []),
            f"UID:{p.uid}",
            f"X-ABUID:{p.uid}:ABPerson",
            "END:VCARD",
        ]
        cards.append("".join(f"{line}\r\n" for line in lines))
    return "".join(cards).encode()


def google(people: Sequence[Person], *, newline: str = "\n") -> bytes:
    cards: list[str] = []
    for p in people:
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            f"FN:{p.full_name}",
            f"N:{p.family};{p.given};;;",
            f"EMAIL;TYPE=INTERNET;TYPE=HOME:{p.email}",
            f"TEL;TYPE=CELL:{p.phone}",
            f"ORG:{p.organization}",
            f"item1.URL:https\\://example.test/{p.given.lower()}",
            "item1.X-ABLabel:",
            f"NOTE:{NOT_ALLOWED}",
            "CATEGORIES:myContacts",
            "END:VCARD",
        ]
        cards.append("".join(f"{line}{newline}" for line in lines))
    return "".join(cards).encode()


def _quoted_printable(text: str, charset: str) -> str:
    return "".join(
        chr(b) if 33 <= b <= 126 and b != ord("=") else f"={b:02X}" for b in text.encode(charset)
    )


def outlook(people: Sequence[Person]) -> bytes:
    cards: list[bytes] = []
    for p in people:
        name = _quoted_printable(p.full_name, "windows-1252")
        family = _quoted_printable(p.family, "windows-1252")
        given = _quoted_printable(p.given, "windows-1252")
        street = _quoted_printable("Hauptstraße 1", "utf-8")
        note = _quoted_printable(f"{NOT_ALLOWED}\r\nsecond line of a long note", "utf-8")
        lines = [
            "BEGIN:VCARD",
            "VERSION:2.1",
            f"N;LANGUAGE=de;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:{family};{given}",
            f"FN;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:{name}",
            f"ORG:{p.organization}",
            f"TEL;WORK;VOICE:{p.phone}",
            f"ADR;WORK;PREF;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:;;{street};Berlin;;10115;DE",
            # A soft line break: the value goes on, unindented, on the next line.
            f"NOTE;ENCODING=QUOTED-PRINTABLE:{note[:40]}=",
            note[40:],
            f"EMAIL;PREF;INTERNET:{p.email}",
            "X-MS-OL-DEFAULT-POSTAL-ADDRESS:2",
            "REV:20260101T120000Z",
            "END:VCARD",
        ]
        cards.append("".join(f"{line}\r\n" for line in lines).encode("ascii"))
    return b"\xef\xbb\xbf" + b"".join(cards)
