"""The kinds of source and destination, each declared once: on the field that names it.

``SourceSpec`` and ``DestinationSpec`` hold one optional field per kind, annotated with
the kind's :class:`Adapter`::

    carddav: Annotated[CardDavSpec | None, Adapter("contactsync_worker.sources.carddav:...")] = (
        Field(default=None, description="A CardDAV address book, synced with sync-collection.")
    )

That line is the registry entry. The field's name is the manifest key, its type the
endpoint spec (which tells the operator the Secrets and ports the kind needs), its
description the CRD's documentation of the kind, and the adapter the worker's factory.
Everything else is derived from these fields: the exactly-one-kind rule, in CEL and in
Python, the sentence of the CRD that lists the kinds, the adapter a worker builds, the
Secrets mounted and the NetworkPolicy's ports. The fields stay plain typed attributes, so
``source.carddav`` is a ``CardDavSpec | None`` to the type checker.

The adapter is a ``"module:attribute"`` path, not an object: this package imports no other
part of the project, and only the worker resolves the path.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar

from pydantic import GetJsonSchemaHandler
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from contactsync_api.endpoints import EndpointSpec
from contactsync_api.rules import Rule, RuledModel, exactly_one
from contactsync_api.values import SpecModel


class Role(StrEnum):
    SOURCE = "source"
    DESTINATION = "destination"


@dataclass(frozen=True)
class Adapter:
    """Marks a field of a :class:`KindChoice` as a kind; ``factory`` is the worker's
    ``"module:attribute"`` that builds the kind's adapter from (name, endpoint spec, context)."""

    factory: str


@dataclass(frozen=True)
class Kind:
    """One kind of source or destination, as its field declares it."""

    key: str  # in the manifest, e.g. "carddav"
    field: str  # the attribute of the Python model
    role: Role
    spec: type[EndpointSpec]
    description: str
    adapter: str  # "module:attribute" of the adapter factory


class KindChoice(RuledModel, SpecModel):
    """A source or destination: exactly one of its kind fields is set."""

    role: ClassVar[Role]

    @classmethod
    def kinds(cls) -> tuple[Kind, ...]:
        """The kinds this model declares, in field order."""
        return _declared_kinds(cls)

    @classmethod
    def validation_rules(cls) -> tuple[Rule, ...]:
        return (_exactly_one_kind(cls), *cls.rules)

    @property
    def kind(self) -> Kind:
        return self._chosen()[0]

    @property
    def endpoint(self) -> EndpointSpec:
        """The spec of the server this source or destination reaches."""
        return self._chosen()[1]

    def _chosen(self) -> tuple[Kind, EndpointSpec]:
        for kind in self.kinds():
            endpoint = getattr(self, kind.field)
            if endpoint is not None:
                return kind, endpoint
        raise ValueError(f"this {self.role} sets none of {kind_keys(self.kinds())}")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if getattr(cls, "role", None) is not None:
            cls.kinds()  # a kind declared wrongly fails at import, not at the first sync

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = super().__get_pydantic_json_schema__(core_schema, handler)
        described = handler.resolve_ref_schema(schema)
        keys = [kind.key for kind in cls.kinds()]
        listing = f"{', '.join(keys[:-1])} and {keys[-1]}" if len(keys) > 1 else keys[0]
        choice = f"Set exactly one of {listing}."
        described["description"] = f"{described.get('description', '')} {choice}".lstrip()
        return schema


def kind_keys(kinds: tuple[Kind, ...]) -> str:
    return ", ".join(kind.key for kind in kinds)


def exactly_one_kind_rule(role: Role, kinds: tuple[Kind, ...]) -> Rule:
    """The rule that a source or destination sets exactly one of ``kinds``."""
    fields = [kind.field for kind in kinds]
    return Rule(
        cel=f"[{', '.join(f'has(self.{kind.key})' for kind in kinds)}].filter(k, k).size() == 1",
        message=f"each {role} sets exactly one of {kind_keys(kinds)}",
        holds=lambda m: exactly_one(*(getattr(m, field) for field in fields)),
    )


@cache
def _exactly_one_kind(model: type[KindChoice]) -> Rule:
    return exactly_one_kind_rule(model.role, model.kinds())


@cache
def _declared_kinds(model: type[KindChoice]) -> tuple[Kind, ...]:
    kinds = tuple(
        _kind(model, name, info)
        for name, info in model.model_fields.items()
        if any(isinstance(m, Adapter) for m in info.metadata)
    )
    if not kinds:
        raise TypeError(f"{model.__name__} declares no kind")
    return kinds


def _kind(model: type[KindChoice], name: str, info: FieldInfo) -> Kind:
    [adapter] = [m for m in info.metadata if isinstance(m, Adapter)]
    spec = _optional_endpoint(info.annotation)
    if spec is None or info.default is not None or not info.description:
        raise TypeError(
            f"{model.__name__}.{name}: a kind is an optional EndpointSpec that defaults to "
            "None and has a description"
        )
    return Kind(
        key=info.alias or name,
        field=name,
        role=model.role,
        spec=spec,
        description=info.description,
        adapter=adapter.factory,
    )


def _optional_endpoint(annotation: Any) -> type[EndpointSpec] | None:
    """``X`` of an annotation ``X | None`` where X is an EndpointSpec, else None."""
    if typing.get_origin(annotation) not in (types.UnionType, typing.Union):
        return None
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], EndpointSpec):
        return members[0]
    return None
