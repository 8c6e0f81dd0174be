"""LDAP source: a paged subtree search (RFC 2696) of inetOrgPerson entries, as a snapshot.

Minimization happens in the query: the search asks for exactly the attributes the
allowed fields, the identity and consent need (``ldap_entries.requested_attributes``), so
the server never sends the rest. ``entryUUID`` is always asked for, which also keeps the
list from being empty (an empty list would mean "all user attributes").

Entries become contacts in :mod:`ldap_entries` (mapping, ids, quarantine), by the spec's
mapping (inetOrgPerson's attributes unless it says otherwise). A first page of entries none
of which gives an allowed field is refused as SourceUnavailable naming the attributes they
hold and those the mapping reads: a directory of another schema must not sync as empty
contacts, nor delete the ones synced before.

Paging cookies are bound to the connection that made them, so an adapter keeps its
connection between pages of a run; a cursor the adapter did not issue (another worker,
a lost connection) raises :class:`CursorExpired` and the run starts again.
ldap3 is synchronous: every call runs in a thread so the event loop stays free.

Failures say what they are: a server not reached (its name, its port, the TLS handshake) is
SourceUnreachable, a bind or search the server refuses for the account (invalidCredentials,
insufficientAccessRights) SourceAuthenticationRefused, a base DN that does not exist
SourceNotFound; each is a SourceUnavailable, so nothing is deleted on its account. The bind
DN and password are read from their Secret for every connection, so a rotated password is
used by the next run.

What a server may send is bounded, so that a hostile or broken one cannot exhaust the
worker; past a bound the page is refused as SourceUnavailable, and nothing is deleted:

- entries: a page holds at most ``pageSize`` of them, a lookup by id at most one per id.
  Lookups also ask the server for that size limit; paged searches cannot, because
  servers (OpenLDAP among them) apply a paged search's size limit to the whole search.
- bytes: at most ``max_response_bytes`` for one request (a page), at most
  ``max_entry_bytes`` for one entry with all its values (``ldap_bounds``), checked as
  the bytes arrive. Pages of 500 entries of a few KiB are far below either.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from contactsync_api.egress import RegionEgress
from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.errors import (
    ContactSyncError,
    CursorExpired,
    SourceAuthenticationRefused,
    SourceNotFound,
    SourceUnavailable,
    SourceUnreachable,
)
from contactsync_api.mappings import ldap_mapping
from contactsync_worker import credentials
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page
from contactsync_worker.sources.ldap_bounds import ReceiveBounds
from contactsync_worker.sources.ldap_entries import (
    ENTRY_UUID,
    Attributes,
    EntryMapper,
    fed_attributes,
    is_entry_uuid,
    requested_attributes,
    unmapped_page,
)
from contactsync_worker.transport import check_egress_now, ldap_port, ldap_tls

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
MAX_RESPONSE_BYTES = 32 * 2**20
# OpenLDAP takes no request over 4 MiB by default, so no entry written through it is larger.
MAX_ENTRY_BYTES = 4 * 2**20
_FETCH_CHUNK = 50  # entryUUIDs per OR-filter in fetch_items
# Result codes (RFC 4511 §4.1.9).
_SUCCESS = 0
_NO_SUCH_OBJECT = 32
# inappropriateAuthentication, invalidCredentials, insufficientAccessRights, and
# unwillingToPerform, which servers answer to a bind their policy refuses.
_REFUSED = frozenset({48, 49, 50, 53})

_Entries = list[tuple[str, Attributes]]


@dataclass(frozen=True)
class _Connection:
    """A bound ldap3 connection and the bounds on what its server may send."""

    ldap: Any  # ldap3.Connection, which has no type hints
    bounds: ReceiveBounds


class LdapSource:
    """A SourceAdapter reading one LDAP directory; see the module docstring."""

    def __init__(
        self,
        name: str,
        config: LdapSourceSpec,
        policy: FieldPolicy,
        *,
        secrets_dir: Path | None = None,
        timeout: float = 30.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        egress: RegionEgress | None = None,
    ) -> None:
        self.name = name
        mapping = ldap_mapping(config.mapping)
        self.attributes = requested_attributes(policy, mapping)
        self._fed = fed_attributes(policy, mapping)
        self._mapper = EntryMapper(name, policy, mapping)
        self._config = config
        self._policy = policy
        self._secrets_dir = secrets_dir
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._max_entry_bytes = max_entry_bytes
        self._egress = egress
        self._conn: _Connection | None = None  # the connection of the run in progress
        self._next_cursor: str | None = None
        self._lock = asyncio.Lock()  # one ldap3 connection, one operation at a time

    @classmethod
    def from_spec(cls, name: str, spec: LdapSourceSpec, context: AdapterContext) -> LdapSource:
        """The source a region's configuration declares (the ``ldap`` kind); it reads its
        credentials when it connects."""
        return cls(
            name, spec, context.policy, secrets_dir=context.secrets_dir, egress=context.egress
        )

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        # A snapshot source ignores the checkpoint: the pipeline diffs by content hash.
        async with self._lock:
            return await asyncio.to_thread(self._fetch_page, cursor)

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        async with self._lock:
            return await asyncio.to_thread(self._fetch_items, item_ids)

    async def aclose(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._close)

    # --- the run, in a worker thread --------------------------------------------------

    def _fetch_page(self, cursor: str | None) -> Page:
        if cursor is None:
            self._close()
            self._conn = self._connect()
            cookie = None
        elif self._conn is None or cursor != self._next_cursor:
            raise CursorExpired(
                f"LDAP source {self.name!r}: the paged search of this run is gone "
                "(cookies live on one connection); start the run again"
            )
        else:
            cookie = _decode_cursor(cursor)
        try:
            entries, next_cookie = self._search_page(self._conn, cookie)
        except SourceUnavailable:
            self._close()
            raise
        page = Page(snapshot=True)
        for dn, attributes in entries:
            record = self._mapper.record(dn, attributes)
            if isinstance(record, Contact):
                page.contacts.append(record)
            else:
                page.quarantined.append(record)
        unmapped = unmapped_page(entries, self._fed) if cursor is None else None
        if unmapped:
            self._close()
            raise SourceUnavailable(f"LDAP source {self.name!r}: {unmapped}")
        if next_cookie:
            self._next_cursor = page.cursor = base64.urlsafe_b64encode(next_cookie).decode()
        else:
            page.complete = True
            self._close()  # frees the server's paging state at once
        return page

    def _search_page(self, conn: _Connection, cookie: bytes | None) -> tuple[_Entries, bytes]:
        config = self._config
        entries = self._search(
            conn,
            config.base_dn,
            config.filter,
            ldap3.SUBTREE,
            most=config.page_size,
            paged=True,
            cookie=cookie,
        )
        control = conn.ldap.result.get("controls", {}).get(PAGED_RESULTS_OID, {})
        next_cookie: bytes = control.get("value", {}).get("cookie") or b""
        return entries, next_cookie

    def _fetch_items(self, item_ids: list[str]) -> list[Contact]:
        uuids = sorted({i.lower() for i in item_ids if is_entry_uuid(i.lower())})
        dns = [i for i in dict.fromkeys(item_ids) if "=" in i and self._under_base(i)]
        found: _Entries = []
        conn = self._connect()
        try:
            for start in range(0, len(uuids), _FETCH_CHUNK):
                chunk = uuids[start : start + _FETCH_CHUNK]
                alternatives = "".join(f"({ENTRY_UUID}={escape_filter_chars(u)})" for u in chunk)
                search_filter = f"(&{self._config.filter}(|{alternatives}))"
                base = self._config.base_dn
                found += self._search(conn, base, search_filter, ldap3.SUBTREE, most=len(chunk))
            for dn in dns:
                # The spec's filter still applies: an entry it no longer matches is gone.
                found += self._search(
                    conn, dn, self._config.filter, ldap3.BASE, most=1, missing_ok=True
                )
        finally:
            _unbind(conn.ldap)
        records = (self._mapper.record(dn, attributes) for dn, attributes in found)
        return [r for r in records if isinstance(r, Contact)]

    def _search(
        self,
        conn: _Connection,
        base: str,
        search_filter: str,
        scope: str,
        *,
        most: int,
        paged: bool = False,
        cookie: bytes | None = None,
        missing_ok: bool = False,
    ) -> _Entries:
        """The entries of one search, at most ``most`` of them, or a SourceUnavailable
        (none when ``missing_ok`` and the base does not exist)."""
        # The paged results control is not critical: a server without paging may still
        # answer a directory that fits one page. Its size limit is the page size; a size
        # limit would count the whole paged search (OpenLDAP), not a page.
        limit = {"paged_size": most, "paged_cookie": cookie} if paged else {"size_limit": most}
        conn.bounds.start()
        try:
            conn.ldap.search(
                base,
                search_filter,
                search_scope=scope,
                attributes=self.attributes,
                time_limit=int(self._timeout),
                **limit,
            )
        except LDAPException as exc:
            raise self._unavailable("search failed", exc, conn.bounds) from exc
        result = conn.ldap.result
        if result.get("result") == _NO_SUCH_OBJECT and missing_ok:
            return []
        if result.get("result") != _SUCCESS:
            # sizeLimitExceeded and the like land here too: a partial snapshot would
            # make the missing entries look deleted.
            raise _search_failure(result.get("result"))(
                f"LDAP source {self.name!r}: search failed ({result.get('description')})"
            )
        entries = _entries(conn.ldap)
        if len(entries) > most:
            hint = " (does it support paged results?)" if paged else ""
            raise SourceUnavailable(
                f"LDAP source {self.name!r}: the server sent {len(entries)} entries where at "
                f"most {most} were asked for{hint}; refused"
            )
        return entries

    def _connect(self) -> _Connection:
        config = self._config
        try:
            ca_bundle = credentials.ca_bundle_for(
                config.ca_bundle_secret_ref, secrets_dir=self._secrets_dir
            )
            bind = (
                credentials.ldap_bind(
                    config.credentials_secret_ref.name, secrets_dir=self._secrets_dir
                )
                if config.credentials_secret_ref
                else None
            )
        except credentials.CredentialsError as exc:
            raise credentials.CredentialsError(f"LDAP source {self.name!r}: {exc}") from exc
        # Always our Tls: ldap3's start_tls() without one would not verify the server.
        tls = ldap_tls(
            config.url,
            start_tls=config.start_tls,
            allow_insecure=config.allow_insecure,
            ca_bundle=ca_bundle,
        )
        parts = urlsplit(config.url)
        check_egress_now(parts.hostname or "", ldap_port(config.url), self._egress)
        server = ldap3.Server(
            config.url, tls=tls, get_info=ldap3.NONE, connect_timeout=min(self._timeout, 10.0)
        )
        conn = ldap3.Connection(
            server,
            user=bind.bind_dn if bind else None,
            password=bind.password.reveal() if bind else None,
            authentication=ldap3.SIMPLE if bind else ldap3.ANONYMOUS,
            read_only=True,
            # A referral could point at a server in another region, and ldap3 would
            # send the bind credentials along.
            auto_referrals=False,
            # ldap3 packs this into a socket option as an integer: a float fails every open.
            receive_timeout=max(1, int(self._timeout)),
            raise_exceptions=False,
        )
        bounds = ReceiveBounds(self._max_response_bytes, self._max_entry_bytes)
        try:
            self._open(conn, server)
            bounds.install(conn)
            if not conn.bind():
                refused = conn.result.get("result") in _REFUSED
                raise (SourceAuthenticationRefused if refused else SourceUnavailable)(
                    f"LDAP source {self.name!r}: bind refused ({conn.result.get('description')})"
                )
        except LDAPException as exc:
            _unbind(conn)
            raise self._unavailable("cannot connect", exc, bounds) from exc
        except SourceUnavailable:
            _unbind(conn)
            raise
        finally:
            # ldap3's Connection repr prints the password; it is not needed after the bind.
            conn.password = None
        return _Connection(conn, bounds)

    def _open(self, conn: Any, server: Any) -> None:
        """Connect, and secure the connection as the spec says; what fails here never
        reached the directory (the name, the port, the TLS handshake)."""
        try:
            conn.open()
            secure = self._config.start_tls and not server.ssl
            if secure and not conn.start_tls(read_server_info=False):
                raise SourceUnreachable(
                    f"LDAP source {self.name!r}: StartTLS refused "
                    f"({(conn.result or {}).get('description')})"
                )
        except LDAPException as exc:
            raise SourceUnreachable(
                f"LDAP source {self.name!r}: cannot connect ({type(exc).__name__}: {exc})"
            ) from exc

    def _close(self) -> None:
        conn, self._conn, self._next_cursor = self._conn, None, None
        if conn is not None:
            _unbind(conn.ldap)

    def _unavailable(
        self, what: str, exc: LDAPException, bounds: ReceiveBounds
    ) -> SourceUnavailable:
        if bounds.refused:
            return SourceUnavailable(f"LDAP source {self.name!r}: {bounds.refused}; refused")
        # ldap3 messages carry socket and TLS reasons; it is never given the password text
        # in a message, and the password is cleared from the connection after the bind.
        return SourceUnavailable(f"LDAP source {self.name!r}: {what} ({type(exc).__name__}: {exc})")

    def _under_base(self, dn: str) -> bool:
        """fetch_items must not read outside the configured base, whatever id it is given."""
        try:
            entry, base = _dn_key(dn), _dn_key(self._config.base_dn)
        except LDAPInvalidDnError:
            return False
        return len(entry) >= len(base) and entry[len(entry) - len(base) :] == base


def _search_failure(code: object) -> type[ContactSyncError]:
    """What a search the server answered with result ``code`` is."""
    if code == _NO_SUCH_OBJECT:
        return SourceNotFound  # the base DN: a missing entry below it is simply not listed
    if code in _REFUSED:
        return SourceAuthenticationRefused
    return SourceUnavailable


def _entries(conn: Any) -> list[tuple[str, Attributes]]:
    """(dn, raw attributes) of the entries in the last response; referrals are skipped."""
    return [
        (item["dn"], item.get("raw_attributes") or {})
        for item in conn.response or []
        if item.get("type") == "searchResEntry"
    ]


def _dn_key(dn: str) -> list[tuple[str, str]]:
    return [(attr.lower(), value.lower()) for attr, value, _ in parse_dn(dn)]


def _decode_cursor(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor.encode())
    except (binascii.Error, ValueError) as exc:
        raise CursorExpired("not a cursor of this LDAP source") from exc


def _unbind(ldap: Any) -> None:
    # Closing a broken connection raises; there is nothing left to release then.
    with contextlib.suppress(LDAPException):
        ldap.unbind()
