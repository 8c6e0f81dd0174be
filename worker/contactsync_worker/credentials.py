"""Credentials from mounted Secrets: one directory per Secret, one file per key.

The operator mounts every Secret the spec references under ``SECRETS_DIR/<name>/``
(``contracts.runtime``). Values come back wrapped in :class:`Redacted`, so printing,
logging or formatting one into an exception shows ``***``; code that needs the value
calls ``reveal()`` at the last moment, next to the library that takes it.

Errors name the Secret and the key, never the value. Values are read on every call,
so a rotated Secret (the kubelet updates the files in place) is picked up by the next
connection without restarting the worker.
"""

from __future__ import annotations

import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

from contactsync_api.errors import ConfigurationError
from contactsync_api.runtime import ENV_SECRETS_DIR, SECRETS_DIR, secret_dir
from contactsync_api.values import SecretKeyRef

# Secret names are DNS subdomains and keys are [-._a-zA-Z0-9]+ in Kubernetes; checking
# both keeps a crafted name from reading a file outside the Secret's directory.
_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")

USERNAME_KEY = "username"
PASSWORD_KEY = "password"  # noqa: S105 - the name of a Secret key, not a password
BIND_DN_KEY = "bindDN"
TOKEN_KEY = "token"  # noqa: S105 - the name of a Secret key


class CredentialsError(ConfigurationError):
    """A Secret key is missing, empty or unreadable. The message names Secret and key only."""


class Redacted:
    """A secret string that never shows itself: repr, str and format all give ``***``.

    Deliberately not a ``str`` subclass: concatenation, slicing or ``%s`` on a str
    subclass would hand the value out. Pickling is refused so it cannot be serialized
    into a workflow payload by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: call it only where a library needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Redacted('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Redacted):
            return NotImplemented
        # Constant time, so comparing a presented token does not leak it by timing.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Redacted, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Redacted values cannot be pickled or serialized")


@dataclass(frozen=True)
class UsernamePassword:
    username: str
    password: Redacted


@dataclass(frozen=True)
class BindCredentials:
    """An LDAP simple bind: the DN to bind as and its password."""

    bind_dn: str
    password: Redacted

    def __repr__(self) -> str:
        # A bind DN often names a person (cn=Erika Mustermann,...): keep it out of logs too.
        return "BindCredentials(bind_dn=..., password=Redacted)"


def secrets_root() -> Path:
    """Where Secrets are mounted: ``$CONTACTSYNC_SECRETS_DIR`` or the runtime default."""
    return Path(os.environ.get(ENV_SECRETS_DIR) or SECRETS_DIR)


def secret_key_path(secret: str, key: str, *, secrets_dir: Path | None = None) -> Path:
    """The file that holds ``key`` of the mounted Secret ``secret``."""
    if not _SECRET_NAME.fullmatch(secret):
        raise CredentialsError(f"{secret!r} is not a valid Secret name")
    if not _SECRET_KEY.fullmatch(key) or key.startswith(".."):
        raise CredentialsError(f"{key!r} is not a valid key of Secret {secret!r}")
    root = secrets_dir if secrets_dir is not None else secrets_root()
    # secret_dir speaks the container's PurePosixPath; the file is read as a local Path.
    return Path(secret_dir(PurePosixPath(root.as_posix()), secret)) / key


def read_secret(secret: str, key: str, *, secrets_dir: Path | None = None) -> Redacted:
    """The value of one key, UTF-8, with trailing newlines (from ``echo`` or editors) removed."""
    raw = _read(secret, key, secrets_dir)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Not chained: the decode error's message quotes the offending bytes.
        raise CredentialsError(f"Secret {secret!r} key {key!r} is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value:
        # An empty LDAP password is an unauthenticated bind (RFC 4513 5.1.2): refuse it here.
        raise CredentialsError(f"Secret {secret!r} key {key!r} is empty")
    return Redacted(value)


def username_password(secret: str, *, secrets_dir: Path | None = None) -> UsernamePassword:
    """``username`` and ``password`` keys, for HTTP basic authentication."""
    username = read_secret(secret, USERNAME_KEY, secrets_dir=secrets_dir).reveal()
    return UsernamePassword(username, read_secret(secret, PASSWORD_KEY, secrets_dir=secrets_dir))


def ldap_bind(secret: str, *, secrets_dir: Path | None = None) -> BindCredentials:
    """``bindDN`` and ``password`` keys, for an LDAP simple bind."""
    bind_dn = read_secret(secret, BIND_DN_KEY, secrets_dir=secrets_dir).reveal()
    return BindCredentials(bind_dn, read_secret(secret, PASSWORD_KEY, secrets_dir=secrets_dir))


def bearer_token(secret: str, *, secrets_dir: Path | None = None) -> Redacted:
    """The ``token`` key, sent as ``Authorization: Bearer``."""
    return read_secret(secret, TOKEN_KEY, secrets_dir=secrets_dir)


def ca_bundle(secret: str, key: str, *, secrets_dir: Path | None = None) -> Path:
    """The mounted file of PEM CA certificates; TLS libraries want a path, not the text."""
    path = secret_key_path(secret, key, secrets_dir=secrets_dir)
    pem = _read(secret, key, secrets_dir)
    # A CA bundle is public, but a wrong key (a password file) must not reach the TLS layer,
    # whose parse errors could quote it.
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise CredentialsError(
            f"Secret {secret!r} key {key!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    return path


def ca_bundle_for(ref: SecretKeyRef | None, *, secrets_dir: Path | None = None) -> Path | None:
    """The CA bundle an endpoint's ``caBundleSecretRef`` names, or None (system trust)."""
    return ca_bundle(ref.name, ref.key, secrets_dir=secrets_dir) if ref is not None else None


def _read(secret: str, key: str, secrets_dir: Path | None) -> bytes:
    """One mounted key's bytes; errors name the Secret and key, never the content."""
    path = secret_key_path(secret, key, secrets_dir=secrets_dir)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        _missing(secret, key, exc)
    except OSError as exc:
        raise CredentialsError(
            f"Secret {secret!r} key {key!r} cannot be read ({type(exc).__name__})"
        ) from exc


def _missing(secret: str, key: str, exc: FileNotFoundError) -> NoReturn:
    raise CredentialsError(
        f"Secret {secret!r} has no key {key!r} mounted at {exc.filename}: "
        "check the Secret exists in the ContactSync's namespace and holds that key"
    ) from exc
