"""An LDAP directory, read as a source with paged searches."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from contactsync_api.endpoints import (
    EndpointSpec,
    no_user_info_rule,
    present,
    scheme_rule,
    url_port,
)
from contactsync_api.ldap_filter import filter_problem
from contactsync_api.mappings import LdapMapping
from contactsync_api.rules import Rule, RuledModel, rules_waived
from contactsync_api.values import SecretKeyRef, SecretRef, Url


class LdapSourceSpec(RuledModel, EndpointSpec):
    """An LDAP directory, read with paged searches."""

    rules = (
        scheme_rule("ldaps", "ldap"),
        Rule(
            cel="!self.url.startsWith('ldap://') || self.startTLS || self.allowInsecure",
            message=(
                "url: ldap:// sends contacts and credentials in clear text; use ldaps://, "
                "set startTLS: true, or set allowInsecure: true (development only)"
            ),
            holds=lambda m: not m.url.startswith("ldap://") or m.start_tls or m.allow_insecure,
            field_path=".url",
        ),
        Rule(
            cel="!(self.url.startsWith('ldaps://') && self.startTLS)",
            message=(
                "startTLS upgrades an ldap:// connection; an ldaps:// one is TLS from the "
                "start and would fail it: remove startTLS, or use ldap:// with startTLS"
            ),
            holds=lambda m: not (m.url.startswith("ldaps://") and m.start_tls),
            field_path=".startTLS",
        ),
        no_user_info_rule(),
    )

    url: Url = Field(description="Server URL, ldaps://host:636 or ldap://host:389 with startTLS.")
    base_dn: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        alias="baseDN", description="Search base, e.g. ou=people,dc=example,dc=com."
    )
    filter: Annotated[str, StringConstraints(pattern=r"^\(.*\)$", max_length=1024)] = Field(
        default="(objectClass=inetOrgPerson)",
        description=(
            "LDAP search filter (RFC 4515), e.g. (&(objectClass=inetOrgPerson)(mail=*)). "
            "The API server checks only the parentheses around it; contactsync check and "
            "the operator parse it."
        ),
    )
    page_size: Annotated[int, Field(ge=1, le=5000)] = Field(
        default=500, description="Entries per page of the paged search."
    )
    start_tls: bool = Field(
        default=False,
        alias="startTLS",
        description="Upgrade an ldap:// connection with StartTLS (not with ldaps://).",
    )
    credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with bindDN and password keys. Anonymous without."
    )
    ca_bundle_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key with PEM CA certificates to verify the server."
    )
    allow_insecure: bool = Field(
        default=False, description="Allow ldap:// without StartTLS. For development only."
    )

    mapping: LdapMapping | None = Field(
        default=None,
        description=(
            "Which attributes feed which fields: a preset (inetorgperson, active-directory), "
            "entries, or a preset with entries replacing its own. Unset: inetorgperson "
            "(displayName else cn: fullName; givenName; sn: familyName; mail: emails, work; "
            "telephoneNumber: phones, voice work; mobile: cell; homePhone: home voice; "
            "facsimileTelephoneNumber: fax work; pager; o: organization; ou: department; "
            "title; postalAddress: addresses, work; homePostalAddress: home; labeledURI: urls; "
            "description: note; jpegPhoto: photo). Entries without a preset add to it."
        ),
    )

    @field_validator("filter")
    @classmethod
    def _filter_parses(cls, value: str, info: ValidationInfo) -> str:
        # No CEL rule can parse a nested filter; refused here, it never reaches a directory.
        problem = None if rules_waived(info) else filter_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def secret_refs(self) -> tuple[SecretRef, ...]:
        return present(self.credentials_secret_ref, self.ca_bundle_secret_ref)

    def ports(self) -> frozenset[int]:
        return frozenset({url_port(self.url)})
