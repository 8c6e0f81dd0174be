"""Where sources read and destinations write, compared within one ContactSync.

An endpoint spec names the fields that say what it reads or writes (``EndpointSpec.location``:
an address book by its url, a table by its connection Secret, schema and table). From them
come two rules, for every kind that declares a location:

- no two destinations write the same place: each would undo the other's writes;
- no destination writes where a source of the same kind reads: the sync would read back what
  it wrote, and every run would feed the next (a feedback loop).

Values compare as written; URLs a trailing slash aside (``https://dav/book`` and
``https://dav/book/`` are one address book). Two spellings of one server, or two Secrets
naming one database, are beyond what a rule can see.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from contactsync_api.kinds import Kind
from contactsync_api.rules import Rule, cel_property


@cache
def location_rules(sources: tuple[Kind, ...], destinations: tuple[Kind, ...]) -> tuple[Rule, ...]:
    """The rules for a spec whose sources and destinations may be of these kinds."""
    rules = [_distinct_destinations(kind) for kind in destinations if kind.spec.location]
    source_kinds = {kind.key: kind for kind in sources}
    for kind in destinations:
        source = source_kinds.get(kind.key)
        if kind.spec.location and source and source.spec.location == kind.spec.location:
            rules.append(_no_feedback_loop(kind))
    return tuple(rules)


def location(endpoint: BaseModel, paths: Sequence[str]) -> tuple[str, ...]:
    """The values at ``paths`` (manifest keys, dotted); URLs end in a slash."""
    return tuple(_alike(path, str(_value(endpoint, path))) for path in paths)


def _distinct_destinations(kind: Kind) -> Rule:
    same = _cel_same("d", "e", kind)

    def holds(spec: Any) -> bool:
        places = [_place(d, kind) for d in spec.destinations if getattr(d, kind.field)]
        return len(places) == len(set(places))

    return Rule(
        cel=(
            f"self.destinations.all(d, !has(d.{kind.key}) || "
            f"self.destinations.exists_one(e, has(e.{kind.key}) && {same}))"
        ),
        message=(
            f"spec.destinations: two destinations have the same {_described(kind)}: each would "
            "undo the other's writes"
        ),
        holds=holds,
        field_path=".destinations",
    )


def _no_feedback_loop(kind: Kind) -> Rule:
    same = _cel_same("d", "s", kind)

    def holds(spec: Any) -> bool:
        read = {_place(s, kind) for s in spec.sources if getattr(s, kind.field)}
        return not any(_place(d, kind) in read for d in spec.destinations if getattr(d, kind.field))

    return Rule(
        cel=(
            f"self.destinations.all(d, !has(d.{kind.key}) || "
            f"!self.sources.exists(s, has(s.{kind.key}) && {same}))"
        ),
        message=(
            f"spec.destinations: a destination has the {_described(kind)} of a source: the "
            "sync would read back what it writes, a feedback loop"
        ),
        holds=holds,
        field_path=".destinations",
    )


def _place(choice: BaseModel, kind: Kind) -> tuple[str, ...]:
    return location(getattr(choice, kind.field), kind.spec.location)


def _cel_same(one: str, other: str, kind: Kind) -> str:
    def at(item: str, path: str) -> str:
        return ".".join([item, kind.key, *(cel_property(key) for key in path.split("."))])

    return " && ".join(
        f"{_cel_alike(path, at(one, path))} == {_cel_alike(path, at(other, path))}"
        for path in kind.spec.location
    )


def _is_url(path: str) -> bool:
    return path.rsplit(".", 1)[-1] == "url"


def _cel_alike(path: str, value: str) -> str:
    return f"({value}.endsWith('/') ? {value} : {value} + '/')" if _is_url(path) else value


def _alike(path: str, value: str) -> str:
    return value + "/" if _is_url(path) and not value.endswith("/") else value


def _described(kind: Kind) -> str:
    paths = kind.spec.location
    listed = paths[0] if len(paths) == 1 else f"{', '.join(paths[:-1])} and {paths[-1]}"
    aside = " (a trailing slash aside)" if any(_is_url(p) for p in paths) else ""
    return f"{kind.key} {listed}{aside}"


def _value(model: BaseModel, path: str) -> object:
    """The value at a dotted path of manifest keys (aliases), as CEL reads it."""
    value: object = model
    for key in path.split("."):
        assert isinstance(value, BaseModel), path
        fields = type(value).model_fields
        name = next(n for n, info in fields.items() if (info.alias or n) == key)
        value = getattr(value, name)
    return value
