"""A CardDAV address book: a source synced with sync-collection, or a destination."""

from __future__ import annotations

from pydantic import Field

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


class CardDavSpec(RuledModel, EndpointSpec):
    """A CardDAV address book collection."""

    rules = (scheme_rule("https", "http"), insecure_url_rule("http", "https"), no_user_info_rule())
    location = ("url",)

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
