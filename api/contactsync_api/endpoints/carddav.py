"""A CardDAV address book: a source synced with sync-collection, or a destination written
in the vCard version its spec chooses."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contactsync_api import runtime
from contactsync_api.endpoints import (
    EndpointSpec,
    insecure_url_rule,
    no_user_info_rule,
    present,
    scheme_rule,
    url_port,
)
from contactsync_api.rules import RuledModel
from contactsync_api.values import SecretKeyRef, SecretRef, Url

VCardVersion = Literal["3.0", "4.0"]


class CardDavSpec(RuledModel, EndpointSpec):
    """A CardDAV address book collection."""

    rules = (scheme_rule("https", "http"), insecure_url_rule("http", "https"), no_user_info_rule())
    location = ("url",)

    @property
    def tmp_bytes(self) -> int:
        # The source keeps the listings of its sync-collection reports, sealed, in /tmp.
        return runtime.CARDDAV_SCRATCH_BYTES

    url: Url = Field(description="URL of the address book collection, ending in a slash.")
    credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with username and password keys for HTTP authentication."
    )
    ca_bundle_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key with PEM CA certificates to verify the server."
    )
    allow_insecure: bool = Field(
        default=False, description="Allow an http:// URL. For development only."
    )

    def secret_refs(self) -> tuple[SecretRef, ...]:
        return present(self.credentials_secret_ref, self.ca_bundle_secret_ref)

    def ports(self) -> frozenset[int]:
        return frozenset({url_port(self.url)})


class CardDavDestinationSpec(CardDavSpec):
    """A CardDAV address book written by a sync, in the vCard version it chooses. A source
    needs no version: it reads whatever version each card holds."""

    @property
    def tmp_bytes(self) -> int:
        return 0  # a destination keeps nothing on disk

    vcard_version: VCardVersion = Field(
        default="3.0",
        description=(
            "The vCard version of the cards written. 3.0, the default, is the version every "
            "CardDAV server must accept (RFC 6352) and the only one servers built on vobject, "
            "such as Radicale, advertise: they store a 4.0 card but rewrite it by 3.0's rules. "
            "3.0 marks a value preferred or not, so ranks below the first (PREF=2 and up) are "
            "not written; 4.0 keeps every rank."
        ),
    )
