"""CardDAV address book as a destination: one card per contact, at <collection>/<id>.vcf.

Idempotency: each card we write carries X-CONTACTSYNC-ID (the contact id: marks it ours)
and X-CONTACTSYNC-HASH (SHA-256 of the card as we serialized it, without that line). A
record whose card's hash matches is left alone: no PUT, etag unchanged. The hash, not the
card text, is compared because servers rewrite cards (Radicale reorders properties, others
convert versions), so text or field comparison would rewrite every card on every run.

Races: create with If-None-Match: *, update and delete with If-Match: <etag>. A 412 means
someone changed the card between our read and our write: we re-read it and decide again
once; a second 412 raises DestinationConflict (a DestinationUnavailable: retry later; the
batch is safe to repeat since unchanged cards are skipped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from contactsync_api.endpoints.carddav import CardDavDestinationSpec
from contactsync_api.errors import DESTINATION_ERRORS, DestinationUnavailable
from contactsync_api.fields import ContactField
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import FieldValue
from contactsync_worker.contacts.vcard import MalformedVCard, read_properties
from contactsync_worker.contacts.vcard_writer import Version, serialize_vcard
from contactsync_worker.destinations import (
    Record,
    WriteResult,
    supported,
)
from contactsync_worker.webdav import (
    VCARD_CONTENT_TYPE,
    ClientSource,
    Credentials,
    DavSession,
    dav_access,
    multiget_body,
    query_defined_body,
)

ID_PROPERTY = "X-CONTACTSYNC-ID"
HASH_PROPERTY = "X-CONTACTSYNC-HASH"
# A vCard holds every canonical field; the split through supported() stays so that a
# field added to the model later is reported, not dropped, until this module learns it.
HOLDS = frozenset(ContactField)
BATCH = 100
_WRITTEN = (200, 201, 204)


class DestinationConflict(DestinationUnavailable):
    """A card changed under us twice in a row. Retry later."""


@dataclass(frozen=True)
class _Stored:
    """What the collection holds at one href: enough to decide, nothing of the contact."""

    etag: str | None
    owner: str | None  # X-CONTACTSYNC-ID, None for a card we did not write
    digest: str | None  # X-CONTACTSYNC-HASH


class CardDavDestination:
    """A CardDAV address book written idempotently (DestinationAdapter).

    vCard 3.0 unless the spec chooses 4.0 (``vcardVersion``): every CardDAV server accepts
    3.0, and vobject-based servers such as Radicale advertise no other version.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        credentials: Credentials | None,
        client: ClientSource,
        vcard_version: Version = "3.0",
    ) -> None:
        self._version: Version = vcard_version
        self._dav = DavSession(
            url, client, credentials, DESTINATION_ERRORS, f"CardDAV destination {name!r}"
        )

    @classmethod
    def from_spec(
        cls, name: str, spec: CardDavDestinationSpec, context: AdapterContext
    ) -> CardDavDestination:
        """The destination a region's configuration declares (the ``carddav`` kind)."""
        login, client = dav_access(spec, context)
        return cls(
            spec.url,
            name=name,
            credentials=login,
            client=client,
            vcard_version=spec.vcard_version,
        )

    async def upsert(self, records: list[Record]) -> WriteResult:
        result = WriteResult()
        for chunk in _chunks(records):
            stored = await self._read([self._href(r.contact_id) for r in chunk])
            for record in chunk:
                kept, unsupported = supported(record.fields, HOLDS)
                for field in unsupported:
                    result.unsupported_fields[field] = result.unsupported_fields.get(field, 0) + 1
                href = self._href(record.contact_id)
                await self._write(href, record.contact_id, kept, stored.get(href), result)
        return result

    async def delete(self, contact_ids: list[str]) -> WriteResult:
        result = WriteResult()
        for chunk in _chunks(contact_ids):
            stored = await self._read([self._href(i) for i in chunk])
            for contact_id in chunk:
                href = self._href(contact_id)
                if await self._delete(href, contact_id, stored.get(href)):
                    result.deleted += 1
        return result

    async def count(self) -> int:
        listing = await self._dav.report(query_defined_body(ID_PROPERTY), depth="1")
        total = 0
        for response in listing.responses:
            if response.status == 404 or response.href.rstrip("/") == self._dav.path.rstrip("/"):
                continue
            # The query already filters on the property; check it anyway where the card came
            # back, in case a server ignored the filter.
            if response.address_data is None or _stored(None, response.address_data).owner:
                total += 1
        return total

    async def aclose(self) -> None:
        await self._dav.aclose()

    def _href(self, contact_id: str) -> str:
        if not contact_id or "/" in contact_id or "\\" in contact_id or contact_id in {".", ".."}:
            raise ValueError("a contact id must be one path segment")
        return f"{self._dav.path}{contact_id}.vcf"

    def _render(self, contact_id: str, fields: dict[ContactField, FieldValue]) -> tuple[str, str]:
        # UID is the contact id, not the source's UID: CardDAV requires UIDs unique in a
        # collection, and sources do not guarantee that (duplicate UIDs across files).
        marker = [(ID_PROPERTY, contact_id)]
        bare = serialize_vcard(fields, uid=contact_id, version=self._version, extra=marker)
        digest = hashlib.sha256(bare.encode("utf-8")).hexdigest()
        card = serialize_vcard(
            fields, uid=contact_id, version=self._version, extra=[*marker, (HASH_PROPERTY, digest)]
        )
        return card, digest

    async def _write(
        self,
        href: str,
        contact_id: str,
        fields: dict[ContactField, FieldValue],
        current: _Stored | None,
        result: WriteResult,
    ) -> None:
        card, digest = self._render(contact_id, fields)
        for _attempt in range(2):
            if current is not None and current.digest == digest:
                result.unchanged += 1
                return
            response = await self._dav.request(
                "PUT",
                href,
                body=card.encode("utf-8"),
                headers={"Content-Type": VCARD_CONTENT_TYPE, **self._precondition(current)},
            )
            if response.status_code in _WRITTEN:
                if current is None:
                    result.created += 1
                else:
                    result.updated += 1
                return
            if response.status_code != 412:
                self._dav.fail(response, "PUT")
            current = await self._read_one(href)
        raise DestinationConflict(
            f"{self._dav.label}: card {contact_id} changed concurrently twice; not written"
        )

    async def _delete(self, href: str, contact_id: str, current: _Stored | None) -> bool:
        for _attempt in range(2):
            if current is None or current.owner != contact_id:
                return False  # already gone, or not a card this sync wrote
            response = await self._dav.request("DELETE", href, headers=self._precondition(current))
            if response.status_code in _WRITTEN:
                return True
            if response.status_code == 404:
                return False
            if response.status_code != 412:
                self._dav.fail(response, "DELETE")
            current = await self._read_one(href)
        raise DestinationConflict(
            f"{self._dav.label}: card {contact_id} changed concurrently twice; not deleted"
        )

    def _precondition(self, current: _Stored | None) -> dict[str, str]:
        if current is None:
            return {"If-None-Match": "*"}
        if current.etag is None:
            raise DestinationUnavailable(f"{self._dav.label}: server gave no ETag for a card")
        return {"If-Match": current.etag}

    async def _read(self, hrefs: Sequence[str]) -> dict[str, _Stored]:
        listing = await self._dav.report(multiget_body(hrefs), depth="0")
        return {
            r.href: _stored(r.etag, r.address_data)
            for r in listing.responses
            if r.status != 404 and r.address_data is not None
        }

    async def _read_one(self, href: str) -> _Stored | None:
        return (await self._read([href])).get(href)


def _stored(etag: str | None, card: str) -> _Stored:
    try:
        found = read_properties(card, (ID_PROPERTY, HASH_PROPERTY))
    except MalformedVCard:
        return _Stored(etag, None, None)  # unreadable: not ours, and overwritten if at our href
    owner = found.get(ID_PROPERTY, [None])[0]
    digest = found.get(HASH_PROPERTY, [None])[0]
    return _Stored(etag, owner, digest)


T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
