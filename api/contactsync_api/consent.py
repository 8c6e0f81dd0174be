"""The words consent values are read with, shared by the spec's rules and the worker's reader.

A source records consent as text (a vCard property, an LDAP attribute, a CSV column, a JSON
Lines key); ``docs/worker.md`` gives the grammar. Words compare trimmed and without regard
to case. The words that mean no are fixed, so no configuration can turn a "no" into a yes;
a ContactSync may add its own to them (``withdrawnValues``) and replace the words that mean
yes (``grantedValues``).
"""

from __future__ import annotations

from collections.abc import Iterable

# A recorded value that says any of these is a refusal, whatever else the record says.
ALWAYS_WITHDRAWN: tuple[str, ...] = (
    "withdrawn",
    "revoked",
    "denied",
    "declined",
    "no",
    "false",
    "0",
    "opt-out",
    "optout",
    "opt_out",
)
DEFAULT_GRANTED: tuple[str, ...] = ("granted", "yes", "true", "1", "opt-in", "optin", "opt_in")
# `purpose=granted;until=2027-01-01`: the key that dates the grant before it.
EXPIRY_KEY = "until"
# A vCard property name, which also serves as an LDAP attribute, CSV column or JSON key.
PROPERTY_PATTERN = r"^[A-Za-z][A-Za-z0-9-]*$"
# A word of the vocabulary, or a purpose: separators and `=` would split it when read.
WORD_PATTERN = r"^[^\s,;=]([^,;=]*[^\s,;=])?$"


def ascii_lower(word: str) -> str:
    """CEL's ``lowerAscii()``: the rules compare words this way on both sides of admission."""
    return word.translate(_ASCII_LOWER)


def cel_list(words: Iterable[str]) -> str:
    """A CEL list literal of ``words``, for rules that name the fixed vocabulary."""
    return "[" + ", ".join(f"'{word}'" for word in words) + "]"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
