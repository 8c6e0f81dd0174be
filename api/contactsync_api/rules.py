"""Validation rules written once, enforced twice: as CEL in the API server and in Python.

Each rule carries a CEL expression for the CRD's ``x-kubernetes-validations``
and a Python predicate for the typed model, with one message that names the
field and the fix. The invalid-manifest corpus in the tests holds the two to
the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Final

from pydantic import BaseModel, GetJsonSchemaHandler, ValidationInfo, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

# Validation context that waives every rule and keeps only the types: for reading back a
# resource the API server stored under older rules, whose schedules must still be cleaned up.
_WAIVED = "contactsync.dev/rules-waived"
RULES_WAIVED: Final[Mapping[str, bool]] = {_WAIVED: True}


@dataclass(frozen=True)
class Rule:
    """One cross-field rule on an object of the spec."""

    cel: str
    message: str
    holds: Callable[[Any], bool]
    field_path: str | None = None  # relative, e.g. ".url": where the API server points
    transition: bool = False  # compares with oldSelf: enforced by the API server only

    def to_crd(self) -> dict[str, str]:
        rule = {"rule": self.cel, "message": self.message}
        if self.field_path:
            rule["fieldPath"] = self.field_path
            rule["reason"] = "FieldValueInvalid"
        return rule


class RuleViolation(ValueError):
    """A rule does not hold; ``field_path`` (relative, e.g. ".url") says where."""

    def __init__(self, message: str, field_path: str | None = None) -> None:
        super().__init__(message)
        self.field_path = field_path


def exactly_one(*values: object) -> bool:
    return sum(value is not None for value in values) == 1


def rules_waived(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(_WAIVED))


# Property names the API server's CEL spells __name__, being CEL's reserved words.
_CEL_RESERVED = frozenset(
    {
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"),
        *("function", "if", "import", "let", "loop", "package", "namespace", "return", "var"),
        *("void", "while"),
    }
)


def cel_property(name: str) -> str:
    """How a rule names the property ``name`` (a manifest key) of ``self``."""
    return f"__{name}__" if name in _CEL_RESERVED else name


def cel_matches(text: str, pattern: str) -> str:
    """CEL that ``text`` (an expression) matches ``pattern`` somewhere, as RE2 reads it."""
    if "'" in pattern or "\\" in pattern:
        raise ValueError(f"write {pattern!r} without quotes and backslashes: it is a CEL literal")
    return f"{text}.matches('{pattern}')"


def matches(value: str, pattern: str) -> bool:
    """What CEL's ``matches`` says: the pattern matches somewhere, and ``$`` ends the text
    (Python's ``$`` would also match before a final newline)."""
    return _python_pattern(pattern).search(value) is not None


@cache
def _python_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("$", r"\Z"))


def pattern_rule(
    field: str, alias: str, pattern: str, message: str, *, refuse: bool = False
) -> Rule:
    """A string field (``field`` in Python, ``alias`` on the wire) matches ``pattern``, or
    with ``refuse`` does not; an unset optional field passes."""
    cel_name = f"self.{cel_property(alias)}"
    test = cel_matches(cel_name, pattern)

    def holds(model: Any) -> bool:
        value = getattr(model, field)
        return value is None or matches(value, pattern) != refuse

    return Rule(
        cel=f"!has({cel_name}) || {'!' if refuse else ''}{test}",
        message=message,
        holds=holds,
        field_path=f".{alias}",
    )


class RuledModel(BaseModel):
    """A model whose class declares ``rules``; the Python side of each is checked here."""

    rules: ClassVar[tuple[Rule, ...]] = ()

    @classmethod
    def validation_rules(cls) -> tuple[Rule, ...]:
        """The rules checked and written to the CRD: ``rules``, and any the model derives."""
        return cls.rules

    def check_invariants(self) -> None:
        """Checks that come before the rules, as list types come before CEL in the API server."""

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> RuledModel:
        if rules_waived(info):
            return self
        self.check_invariants()
        for rule in type(self).validation_rules():
            if not rule.transition and not rule.holds(self):
                raise RuleViolation(rule.message, rule.field_path)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if rules := cls.validation_rules():
            handler.resolve_ref_schema(schema)["x-kubernetes-validations"] = [
                rule.to_crd() for rule in rules
            ]
        return schema
