"""A file of contacts (CSV, JSON Lines, vCard), read whole from a path or an HTTPS URL."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from contactsync_api import runtime
from contactsync_api.endpoints import EndpointSpec, no_user_info_rule, present, url_port
from contactsync_api.mappings import FileMapping
from contactsync_api.rules import Rule, RuledModel, exactly_one, pattern_rule
from contactsync_api.values import SecretKeyRef, SecretRef, Url

# A '..' segment climbs out of the directory the path seems to name (a mounted volume, say).
PARENT_SEGMENT_PATTERN = "(^|/)[.][.](/|$)"


class FileSourceSpec(RuledModel, EndpointSpec):
    """A file of contacts, read whole and diffed by content hash. Set one of path and url."""

    rules = (
        Rule(
            cel="has(self.path) != has(self.url)",
            message="set exactly one of path and url",
            holds=lambda m: exactly_one(m.path, m.url),
        ),
        Rule(
            cel="!has(self.url) || self.url.startsWith('https://') || self.url.startsWith('http://')",
            message="url must start with https:// or http://",
            holds=lambda m: m.url is None or m.url.startswith(("https://", "http://")),
            field_path=".url",
        ),
        Rule(
            cel="!has(self.url) || !self.url.startsWith('http://') || self.allowInsecure",
            message=(
                "url: http:// sends contacts in clear text; use https:// "
                "or set allowInsecure: true (development only)"
            ),
            holds=lambda m: m.url is None or not m.url.startswith("http://") or m.allow_insecure,
            field_path=".url",
        ),
        no_user_info_rule(),
        pattern_rule(
            "path",
            "path",
            PARENT_SEGMENT_PATTERN,
            "path must not have '..' segments: name the file by its own absolute path",
            refuse=True,
        ),
    )

    path: Annotated[str, StringConstraints(pattern=r"^/", max_length=4096)] | None = Field(
        default=None,
        description="Absolute path of the file inside the worker container, without '..'.",
    )
    url: Url | None = Field(default=None, description="HTTPS URL to fetch the file from.")
    credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with a token key, sent as a Bearer token."
    )
    ca_bundle_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key with PEM CA certificates to verify the server."
    )
    allow_insecure: bool = Field(
        default=False, description="Allow an http:// URL. For development only."
    )
    max_bytes: int = Field(
        default=runtime.FILE_SOURCE_MAX_BYTES,
        ge=runtime.FILE_SOURCE_MIN_BYTES,
        le=runtime.FILE_SOURCE_MAX_BYTES_LIMIT,
        description=(
            "The largest file accepted, in bytes (default 64 MiB); a larger one fails its "
            "step and deletes nothing. The worker's /tmp is sized by it: about six times "
            "this per file source, for two versions of the file's copy and id index."
        ),
    )

    mapping: FileMapping | None = Field(
        default=None,
        description=(
            "Which columns (CSV) or keys (JSON Lines) feed which fields: a preset "
            "(google-csv, outlook-csv), entries, or a preset with entries replacing its own. "
            "Unset: columns and keys named by the canonical field names (fullName, givenName, "
            "familyName, emails, phones, organization, ...; matched ignoring case in a CSV "
            "header), a typed field also as <field>.<type> (phones.cell, emails.work.pref), "
            "id, uid, and spec.consent.property. A CSV header none of whose columns the "
            "mapping reads into an allowed field fails the source, naming its columns."
        ),
    )

    @property
    def tmp_bytes(self) -> int:
        # The adapter keeps a sealed copy of the file and an index of its ids in /tmp.
        return runtime.file_source_scratch_bytes(self.max_bytes)

    def secret_refs(self) -> tuple[SecretRef, ...]:
        return present(self.credentials_secret_ref, self.ca_bundle_secret_ref)

    def ports(self) -> frozenset[int]:
        # A file at a path is read from a volume: no port.
        return frozenset({url_port(self.url)} if self.url else ())
