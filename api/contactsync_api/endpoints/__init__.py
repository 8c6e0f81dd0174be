"""The servers sources and destinations reach: one module per kind of server.

An endpoint spec says, besides how to reach its server, what the operator must give the
region's workers for it: the Secrets they mount (``secret_refs``), the TCP ports their
NetworkPolicy lets them dial (``ports``) and the scratch space their ``/tmp`` needs. The
operator asks every endpoint these questions instead of knowing the kinds, so a kind
declared in ``contactsync_api.kinds`` needs nothing else from it.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar
from urllib.parse import urlsplit

from contactsync_api.rules import Rule, pattern_rule
from contactsync_api.values import SecretKeyRef, SecretRef, SpecModel

# A URL whose authority holds an @: user information (user:password@host).
USER_INFO_PATTERN = "^[A-Za-z][-+.A-Za-z0-9]*://[^/?#]*@"

# Where a URL names no port. Another scheme is refused by its spec's rules; 443 is a guess
# that keeps the NetworkPolicy no wider than a TLS port.
DEFAULT_PORTS = {"https": 443, "http": 80, "ldaps": 636, "ldap": 389}


def url_port(url: str) -> int:
    """The TCP port a URL is dialled on."""
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS.get(parts.scheme, 443)


def present(*refs: SecretRef | None) -> tuple[SecretRef, ...]:
    """The references an endpoint sets, of those it may set."""
    return tuple(ref for ref in refs if ref is not None)


class EndpointSpec(SpecModel):
    """A server one source, destination or store of a region reads or writes."""

    # The fields (paths of manifest keys) that together name what the endpoint reads or writes:
    # two endpoints of one kind with equal values are the same address book or table
    # (contactsync_api.locations). Empty: the spec cannot tell.
    location: ClassVar[tuple[str, ...]] = ()

    @property
    def tmp_bytes(self) -> int:
        """Bytes its adapter may keep in the worker's /tmp, an emptyDir the kubelet evicts
        the pod for outgrowing; the operator sizes it by the sum over the region's endpoints."""
        return 0

    @abstractmethod
    def secret_refs(self) -> tuple[SecretRef, ...]:
        """Every Secret the workers read for this endpoint, in the order they are mounted."""

    @abstractmethod
    def ports(self) -> frozenset[int]:
        """The TCP ports the workers dial for this endpoint, as far as the spec tells."""

    def port_secret_ref(self) -> SecretKeyRef | None:
        """A Secret whose connection string may name other ports than :meth:`ports` (those
        of a libpq DSN): the operator reads them from it where it can. None: the spec tells."""
        return None


def scheme_rule(*schemes: str) -> Rule:
    """The endpoint's url starts with one of ``schemes``."""
    listed = ", ".join(f"{s}://" for s in schemes)
    cel = " || ".join(f"self.url.startsWith('{s}://')" for s in schemes)
    return Rule(
        cel=cel,
        message=f"url must start with one of {listed}",
        holds=lambda m: m.url.startswith(tuple(f"{s}://" for s in schemes)),
        field_path=".url",
    )


def insecure_url_rule(scheme: str, secure_scheme: str) -> Rule:
    """A clear-text ``scheme`` only with allowInsecure."""
    return Rule(
        cel=f"!self.url.startsWith('{scheme}://') || self.allowInsecure",
        message=(
            f"url: {scheme}:// sends contacts and credentials in clear text; "
            f"use {secure_scheme}:// or set allowInsecure: true (development only)"
        ),
        holds=lambda m: not m.url.startswith(f"{scheme}://") or m.allow_insecure,
        field_path=".url",
    )


def no_user_info_rule() -> Rule:
    """The endpoint's url, when set, carries no user name or password."""
    return pattern_rule(
        "url",
        "url",
        USER_INFO_PATTERN,
        "url must not hold a user name or password (user:password@host): a URL is read "
        "wherever the ContactSync is; put credentials in the Secret credentialsSecretRef names",
        refuse=True,
    )
