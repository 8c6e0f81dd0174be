"""Where and in which words one source records consent (``spec.sources[].consent``).

A vCard book may keep consent in ``X-CONSENT`` and a directory in another attribute, each in
its own words. The policy stays the ContactSync's: whether consent is required and for which
purposes (``spec.consent.mode``, ``.purposes``) is asked of every source alike. What a source
sets here replaces, field by field, what ``spec.consent`` says; what it leaves unset comes
from there (:func:`source_consent`).

The rules that need only the source's own words are on :class:`SourceConsentSpec`; those that
need the words it inherits are on the ContactSync (:func:`source_consent_rules`), so the API
server refuses a combination whose effective vocabulary ``spec.consent`` would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints

from contactsync_api.consent import (
    ALWAYS_WITHDRAWN,
    DEFAULT_GRANTED,
    PROPERTY_PATTERN,
    WORD_PATTERN,
    ascii_lower,
    cel_list,
)
from contactsync_api.rules import Rule, RuledModel, RuleViolation
from contactsync_api.values import SpecModel

if TYPE_CHECKING:
    from contactsync_api.spec import ConsentSpec

_Word = Annotated[str, StringConstraints(pattern=WORD_PATTERN, max_length=64)]
_ALWAYS_NO = cel_list(ALWAYS_WITHDRAWN)


def _lowered(words: list[str] | None) -> set[str]:
    return {ascii_lower(word) for word in words or ()}


def _own_yes_is_never_no(spec: SourceConsentSpec) -> bool:
    no = _lowered(list(ALWAYS_WITHDRAWN)) | _lowered(spec.withdrawn_values)
    return not _lowered(spec.granted_values) & no


class SourceConsentSpec(RuledModel, SpecModel):
    """How one source records consent; each field left unset is taken from spec.consent."""

    rules = (
        Rule(
            cel=(
                "!has(self.grantedValues) || self.grantedValues.all(g, "
                f"!(g.lowerAscii() in {_ALWAYS_NO}) && !(has(self.withdrawnValues) && "
                "self.withdrawnValues.exists(w, w.lowerAscii() == g.lowerAscii())))"
            ),
            message=(
                "sources[].consent.grantedValues: a word cannot mean both yes and no; these "
                f"always mean no: {', '.join(ALWAYS_WITHDRAWN)}, and so do the source's "
                "withdrawnValues"
            ),
            holds=_own_yes_is_never_no,
            field_path=".grantedValues",
        ),
    )

    property: Annotated[str, StringConstraints(pattern=PROPERTY_PATTERN, max_length=64)] | None = (
        Field(
            default=None,
            description=(
                "vCard property, LDAP attribute, CSV column or JSON Lines key of this source "
                "that holds consent. Default: spec.consent.property."
            ),
        )
    )
    granted_values: Annotated[list[_Word], Field(min_length=1, max_length=16)] | None = Field(
        default=None,
        description=(
            "Words that grant consent in this source, in place of spec.consent.grantedValues "
            "(the default). Compared trimmed, ignoring case."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    withdrawn_values: Annotated[list[_Word], Field(max_length=16)] | None = Field(
        default=None,
        description=(
            "Words that withdraw consent in this source besides those that always do, in "
            "place of spec.consent.withdrawnValues (the default). Compared trimmed, ignoring "
            "case."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    def check_invariants(self) -> None:
        """The API server refuses a word twice in a list (list type set)."""
        for path, words in (
            (".grantedValues", self.granted_values),
            (".withdrawnValues", self.withdrawn_values),
        ):
            for index, word in enumerate(words or ()):
                if word in words[:index]:  # type: ignore[index]
                    raise RuleViolation(f"duplicate value {word!r}", f"{path}[{index}]")


def source_consent(policy: ConsentSpec, own: SourceConsentSpec | None) -> ConsentSpec:
    """The consent policy one source is read under: ``policy`` (``spec.consent``) with what
    the source sets in place of what it says."""
    if own is None:
        return policy
    return type(policy).model_validate(
        {
            "mode": policy.mode,
            "property": own.property or policy.property,
            "purposes": policy.purposes,
            "granted_values": (
                policy.granted_values if own.granted_values is None else own.granted_values
            ),
            "withdrawn_values": (
                policy.withdrawn_values if own.withdrawn_values is None else own.withdrawn_values
            ),
        }
    )


# --- Rules on the ContactSync: a source's words against those it inherits. ---------------

_SPEC_GRANTED = (
    f"(has(self.consent.grantedValues) ? self.consent.grantedValues : {cel_list(DEFAULT_GRANTED)})"
)
_SPEC_WITHDRAWN = "(has(self.consent.withdrawnValues) ? self.consent.withdrawnValues : [])"


def _consents(spec: Any) -> list[SourceConsentSpec]:
    return [s.consent for s in spec.sources if s.consent is not None]


def _inherited_no_is_never_own_yes(spec: Any) -> bool:
    withdrawn = _lowered(spec.consent.withdrawn_values)
    return all(
        not _lowered(own.granted_values) & withdrawn
        for own in _consents(spec)
        if own.granted_values is not None and own.withdrawn_values is None
    )


def _own_no_is_never_inherited_yes(spec: Any) -> bool:
    granted = _lowered(spec.consent.granted_values)
    return all(
        not _lowered(own.withdrawn_values) & granted
        for own in _consents(spec)
        if own.withdrawn_values is not None and own.granted_values is None
    )


def _purposes_are_not_source_words(spec: Any) -> bool:
    purposes = _lowered(spec.consent.purposes)
    return all(
        not purposes & (_lowered(own.granted_values) | _lowered(own.withdrawn_values))
        for own in _consents(spec)
    )


def _has(field: str) -> str:
    return f"has(s.consent.{field})"


def source_consent_rules() -> tuple[Rule, ...]:
    """The ContactSync's rules on its sources' consent words (see the module's doc)."""
    same = "{a}.exists(x, x.lowerAscii() == {b}.lowerAscii())"
    return (
        Rule(
            cel=(
                "self.sources.all(s, !has(s.consent) || !has(s.consent.grantedValues) || "
                f"{_has('withdrawnValues')} || s.consent.grantedValues.all(g, "
                f"!{same.format(a=_SPEC_WITHDRAWN, b='g')}))"
            ),
            message=(
                "spec.sources[].consent.grantedValues: a word cannot mean both yes and no; "
                "a source without withdrawnValues of its own takes spec.consent.withdrawnValues"
            ),
            holds=_inherited_no_is_never_own_yes,
            field_path=".sources",
        ),
        Rule(
            cel=(
                "self.sources.all(s, !has(s.consent) || !has(s.consent.withdrawnValues) || "
                f"{_has('grantedValues')} || s.consent.withdrawnValues.all(w, "
                f"!{same.format(a=_SPEC_GRANTED, b='w')}))"
            ),
            message=(
                "spec.sources[].consent.withdrawnValues: a word cannot mean both yes and no; "
                "a source without grantedValues of its own takes spec.consent.grantedValues"
            ),
            holds=_own_no_is_never_inherited_yes,
            field_path=".sources",
        ),
        Rule(
            cel=(
                "!has(self.consent.purposes) || self.sources.all(s, !has(s.consent) || "
                "self.consent.purposes.all(p, "
                f"!({_has('grantedValues')} && {same.format(a='s.consent.grantedValues', b='p')})"
                f" && !({_has('withdrawnValues')} && "
                f"{same.format(a='s.consent.withdrawnValues', b='p')})))"
            ),
            message=(
                "spec.sources[].consent: a word of grantedValues or withdrawnValues cannot be "
                "one of spec.consent.purposes: a recorded value naming it would be read as "
                "that word"
            ),
            holds=_purposes_are_not_source_words,
            field_path=".sources",
        ),
    )
