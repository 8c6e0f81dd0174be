"""LDAP search filters (RFC 4515), parsed before a directory ever sees one.

Filters nest, so no regular expression, and no CEL rule, can tell a good one: the API
server checks only the parentheses around it, and the model parses it here (``contactsync
check``, and the operator, which reports a ContactSync it refuses as Degraded with reason
InvalidSpec). The LDAP client library stays in the worker; ``tests/unit`` holds this parser
to its verdicts.
"""

from __future__ import annotations

import re

# Nesting this deep is a mistake, not a filter; the bound also keeps the parser's recursion
# far from Python's limit.
MAX_DEPTH = 32

_DESCR = r"[A-Za-z][A-Za-z0-9-]*"
_NUMERIC_OID = r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+"
_OID = f"({_DESCR}|{_NUMERIC_OID})"
_ATTRIBUTE = f"{_OID}(;[A-Za-z0-9-]+)*"
# Any character but NUL ( ) * and \, or \ and two hex digits.
_VALUE_CHAR = r"([^\x00()*\\]|\\[0-9A-Fa-f]{2})"
_VALUE = f"{_VALUE_CHAR}*"
_ITEM = re.compile(
    "(?:"
    + "|".join(
        (
            f"{_ATTRIBUTE}(~=|>=|<=){_VALUE}",  # approx, greater or equal, less or equal
            rf"{_ATTRIBUTE}=({_VALUE_CHAR}|\*)*",  # equality, presence, substrings
            f"({_ATTRIBUTE}(:(?i:dn))?(:{_OID})?|(:(?i:dn))?:{_OID}):={_VALUE}",  # extensible
        )
    )
    + r")(?=\))"  # the whole item, up to its closing parenthesis
)
_ESCAPES = r"escape ( ) * \ in a value as \28 \29 \2a \5c"
_BAD_ESCAPE = re.compile(r"\\(?![0-9A-Fa-f]{2})")


class FilterError(ValueError):
    pass


def filter_problem(text: str) -> str | None:
    """Why ``text`` is not an LDAP search filter, or None when it is one."""
    try:
        _Parser(text).parse()
    except FilterError as exc:
        return f"not an LDAP search filter (RFC 4515): {exc}"
    return None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def parse(self) -> None:
        self.filter(depth=1)
        if self.at != len(self.text):
            raise self.error("text after the filter's closing parenthesis")

    def filter(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.error(f"filters nested deeper than {MAX_DEPTH}")
        self.expect("(")
        operator = self.peek()
        if operator in ("&", "|"):
            self.at += 1
            if self.peek() != "(":
                raise self.error(f"{operator} needs one or more filters, each in parentheses")
            while self.peek() == "(":
                self.filter(depth + 1)
        elif operator == "!":
            self.at += 1
            self.filter(depth + 1)
        else:
            self.item()
        self.expect(")")

    def item(self) -> None:
        found = _ITEM.match(self.text, self.at)
        if found is None:
            end = self.text.find(")", self.at)
            bad = _BAD_ESCAPE.search(self.text, self.at, len(self.text) if end < 0 else end)
            if bad:
                self.at = bad.start()
                raise self.error(f"a \\ not followed by two hex digits; {_ESCAPES}")
            raise self.error(
                "expected a comparison such as (mail=*), (cn=Erika*), (age>=18) or "
                f"(cn:dn:=Erika); {_ESCAPES}"
            )
        self.at = found.end()

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.at += 1

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def error(self, what: str) -> FilterError:
        return FilterError(f"at character {self.at + 1}, {what}")
