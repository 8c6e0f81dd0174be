"""Validation rules written once, enforced twice: as CEL in the API server and in Python.

Each rule carries a CEL expression for the CRD's ``x-kubernetes-validations``
and a Python predicate for the typed model, with one message that names the
field and the fix. The invalid-manifest corpus in the tests holds the two to
the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


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
    def _check_rules(self) -> RuledModel:
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
