"""The cards of a vCard file (one .vcf holding many), read as a stream from any card.

A card runs from a ``BEGIN:VCARD`` line to the next ``END:VCARD`` line (names in any
case). The split looks at physical lines only: in every vCard version a line break
inside a value is escaped (``\\n``) or encoded (``=0D=0A``), and a folded line starts
with white space, so a line that reads exactly ``END:VCARD`` ends the card. Each card is
then parsed by ``contacts.vcard.parse_vcard``, as a CardDAV card is (versions 2.1, 3.0
and 4.0, quoted-printable, charsets, folding, consent, the field policy), with its lines
numbered as the file's are, so a parser error names the line a person finds in the file.

What cannot be used becomes a record of its own, set aside under the line it starts on:

- a card cut off: ``BEGIN:VCARD`` without its ``END:VCARD`` before the file ends or
  before the next ``BEGIN:VCARD`` (which starts a card of its own);
- a card the parser refuses, with the parser's reason;
- a card longer than ``MAX_RECORD_BYTES``; its lines are read past, not held;
- text outside any card (blank lines apart), one record for each run of it.

vCard 2.1's ``AGENT`` may hold a whole card (``AGENT:BEGIN:VCARD``, or ``AGENT:`` and a
``BEGIN:VCARD`` line): its ``END:VCARD`` does not end the card that holds it, so the
agent's phone is never taken for the holder's. The parser refuses such a card, which is
then set aside whole.

Item ids: the card's UID; without one, the hash of its first identity value (in
``spec.identity`` order, as the CSV source derives ids); without any, the hash of its
canonical content (``Contact.content_hash``: the allowed fields' values, types and
labels, in a fixed order). Both are computed from what the parser read, not from the
bytes, so the same card exported again (other line endings, folding, encoding, property
order or position in the file) keeps its id.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from contactsync_worker.contacts.model import Contact, FieldPolicy
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard
from contactsync_worker.sources.file_records import (
    MAX_RECORD_BYTES,
    Position,
    RawRecord,
    RecordError,
    identity_id,
)

BOM = b"\xef\xbb\xbf"
CONTENT_ID_PREFIX = "card-sha256:"
_BEGIN = b"BEGIN:VCARD"
_END = b"END:VCARD"
_SKIP_CHUNK = 64 * 1024
# An AGENT property (2.1) whose value is a card: on its line, or (value empty) on the next.
_AGENT = re.compile(rb"(?:[A-Z0-9-]+\.)?AGENT(?:;[^:]*)?:(BEGIN:VCARD)?")


@dataclass
class _Card:
    """A card being read: where it starts and its bytes (None once it is too long)."""

    start: Position
    data: bytearray | None
    depth: int = 0  # cards of AGENT properties begun and not yet ended
    agent_open: bool = False  # the last line was an AGENT property without a value

    def add(self, line: bytes) -> None:
        if self.data is not None:
            self.data += line
            if len(self.data) > MAX_RECORD_BYTES:
                self.data = None  # too long to hold: read past the rest of it


@dataclass(frozen=True)
class VcfLayout:
    """Where a vCard file's cards start, and how each becomes a contact."""

    source: str
    policy: FieldPolicy
    start: Position

    def records(self, stream: io.BufferedReader, at: Position) -> Iterator[RawRecord]:
        offset, number = at
        card: _Card | None = None
        stray: Position | None = None  # the first line of a run of text outside any card
        while raw := stream.readline(MAX_RECORD_BYTES + 1):
            position = Position(offset, number)
            offset += len(raw)
            number += 1
            if len(raw) > MAX_RECORD_BYTES:  # not held, nor a BEGIN or END: read past it
                if not raw.endswith(b"\n"):
                    offset += _skip_rest_of_line(stream)
                if card is not None:
                    card.data = None
                elif stray is None:
                    stray = position
                continue
            # A folded line starts with white space: no match. Files exported one by one and
            # concatenated may carry a byte-order mark before each BEGIN.
            line = raw.removeprefix(BOM)
            mark = line.rstrip().upper()
            if mark == _BEGIN and (card is None or not card.agent_open):
                if stray is not None:
                    yield RawRecord(stray, RecordError("text outside BEGIN:VCARD and END:VCARD"))
                    stray = None
                if card is not None:
                    reason = (
                        f"the card has no END:VCARD before the card on line {position.line} begins"
                    )
                    yield RawRecord(card.start, RecordError(reason))
                card = _Card(position, bytearray(line))
            elif card is not None:
                card.add(raw)
                agent = _AGENT.fullmatch(mark)
                if mark == _BEGIN or (agent is not None and agent.group(1)):
                    card.depth += 1
                elif mark == _END and card.depth:
                    card.depth -= 1
                elif mark == _END:
                    yield self._card_record(card)
                    card = None
                    continue
                card.agent_open = agent is not None and not agent.group(1)
            elif stray is None and raw.strip():
                stray = position
        if card is not None:
            reason = "the card has no END:VCARD: the file ends first"
            yield RawRecord(card.start, RecordError(reason))
        if stray is not None:
            yield RawRecord(stray, RecordError("text outside BEGIN:VCARD and END:VCARD"))

    def _card_record(self, card: _Card) -> RawRecord:
        if card.data is None:
            error = RecordError(f"the card is longer than {MAX_RECORD_BYTES} bytes")
            return RawRecord(card.start, error)
        try:
            contact = parse_vcard(
                bytes(card.data),
                self.policy,
                source=self.source,
                item_id="",
                first_line=card.start.line,
            )
            item_id = contact.carried_uid or _derived_id(contact, self.policy)
        except (MalformedVCard, RecordError) as exc:
            return RawRecord(card.start, RecordError(str(exc)))
        return RawRecord(card.start, dataclasses.replace(contact, item_id=item_id))


def read_start(stream: io.BufferedReader, source: str, policy: FieldPolicy) -> VcfLayout:
    """The layout of the vCard file ``stream`` holds from its start."""
    offset = len(BOM) if stream.read(len(BOM)) == BOM else 0
    return VcfLayout(source, policy, Position(offset, 1))


def duplicate_reason(item: Contact, first_line: int) -> str:
    """Why a card is set aside whose id the card on ``first_line`` already has."""
    if item.carried_uid:
        return f"duplicate UID: the card on line {first_line} has the same UID"
    if item.item_id.startswith(CONTENT_ID_PREFIX):
        return f"duplicate card: the card on line {first_line} has the same content and no UID"
    return (
        f"duplicate card: the card on line {first_line} has no UID either "
        "and the same first identity value"
    )


def _derived_id(contact: Contact, policy: FieldPolicy) -> str:
    item_id = identity_id(contact, policy)
    if item_id is not None:
        return item_id
    if not contact.fields:
        raise RecordError(
            "no id: the card has no UID, no identity value and no allowed field to derive one from"
        )
    return CONTENT_ID_PREFIX + contact.content_hash()[:32]


def _skip_rest_of_line(stream: io.BufferedReader) -> int:
    """Read past the rest of a line too long to hold; the count of bytes skipped."""
    skipped = 0
    tail = b""
    while not tail.endswith(b"\n"):
        tail = stream.readline(_SKIP_CHUNK)
        if not tail:
            break
        skipped += len(tail)
    return skipped
