"""LDAP filters are parsed before a directory sees one, at least as strictly as the worker's
LDAP client (ldap3) parses them, and by RFC 4515 where ldap3 is lenient."""

from __future__ import annotations

import pytest
from ldap3.core.exceptions import LDAPInvalidFilterError
from ldap3.operation.search import parse_filter

from contactsync_api.ldap_filter import MAX_DEPTH, filter_problem

VALID = [
    "(objectClass=inetOrgPerson)",
    "(&(objectClass=inetOrgPerson)(!(employeeType=contractor)))",
    "(|(mail=*@example.com)(mail=*@example.org))",
    "(cn=*)",
    "(cn=Er*ka*)",
    "(cn=*ika)",
    "(cn=Erika Mustermann)",
    "(cn=M\\c3\\bcller)",
    "(cn=Müller)",
    "(cn=a\\2a)",
    "(cn==x)",
    "(cn=)",
    "(uidNumber>=1000)",
    "(uidNumber<=2000)",
    "(cn~=Erika)",
    "(cn;lang-de=Erika)",
    "(2.5.4.3=Erika)",
    "(cn:dn:2.4.6.8.10:=Erika)",
    "(cn:caseExactMatch:=Erika)",
    "(:dn:2.4.6.8.10:=Erika)",
    "(:caseExactMatch:=Erika)",
    "(cn:=Erika)",
    "(&(objectClass=person)(|(ou=sales)(ou=hr))(!(title=intern)))",
]
REFUSED_BY_BOTH = [
    "(objectClass=person",
    "objectClass=person",
    "(objectClass=person))",
    "(cn=a)(cn=b)",
    "(&)",
    "(|)",
    "((cn=a))",
    "(cn)",
    "(!(cn=a)(cn=b))",
    "(cn=a(b)",
    "(&(cn=a)",
]
# ldap3 sends these on, though RFC 4515 has no such filter: a directory refuses them, or worse,
# reads them its own way.
NOT_RFC_4515 = [
    "(=Erika)",
    "(common name=Erika)",
    "(cn=Erika\\zz)",
    "(cn=Erika\\2)",
    "(1cn=Erika)",
    "(cn:dn=Erika)",
]


def ldap3_accepts(text: str) -> bool:
    try:
        parse_filter(
            text, None, auto_escape=False, auto_encode=False, validator=None, check_names=False
        )
    except LDAPInvalidFilterError:
        return False
    return True


@pytest.mark.parametrize("text", VALID)
def test_a_valid_filter_is_accepted_here_and_by_ldap3(text: str) -> None:
    assert filter_problem(text) is None
    assert ldap3_accepts(text)


@pytest.mark.parametrize("text", REFUSED_BY_BOTH)
def test_what_ldap3_refuses_is_refused_here(text: str) -> None:
    assert not ldap3_accepts(text)
    assert filter_problem(text) is not None


@pytest.mark.parametrize("text", NOT_RFC_4515)
def test_what_ldap3_would_send_on_but_rfc_4515_refuses_is_refused_here(text: str) -> None:
    assert filter_problem(text) is not None


def test_the_problem_says_where_and_how_to_escape() -> None:
    problem = filter_problem("(&(cn=Erika)(sn=M\\zz))")
    assert problem is not None
    assert "at character 18" in problem
    assert "two hex digits" in problem
    assert "\\28" in problem


def test_nesting_is_bounded() -> None:
    deep = "(!" * MAX_DEPTH + "(cn=a)" + ")" * MAX_DEPTH
    assert filter_problem(deep) is not None
    assert filter_problem("(!" * (MAX_DEPTH - 1) + "(cn=a)" + ")" * (MAX_DEPTH - 1)) is None
