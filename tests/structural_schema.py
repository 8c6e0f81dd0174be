"""Check a value against a Kubernetes structural schema as the API server would treat it.

The API server prunes fields its schema does not declare, and nulls of fields not marked
nullable, without an error: a status field missing from the CRD just vanishes. This checker
reports those as loudly as the values it would refuse (a wrong type, a value outside an enum,
a required field missing). It covers the parts of OpenAPI v3 the project's CRDs use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

Schema = Mapping[str, Any]

# RFC 3339, what the API server accepts for format: date-time.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def violations(schema: Schema, value: Any, path: str = "$") -> list[str]:
    """Every place where ``value`` would be pruned or refused, as ``path: why``."""
    return list(_check(schema, value, path))


def _check(schema: Schema, value: Any, path: str) -> Iterator[str]:
    if value is None:
        if not schema.get("nullable"):
            yield f"{path}: null, which the API server prunes (the field is not nullable)"
        return
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            yield f"{path}: {value!r} is neither an integer nor a string"
        return
    kind = schema.get("type")
    if kind is not None and not _is(kind, value):
        yield f"{path}: {value!r} is not of type {kind}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} is not one of {schema['enum']}"
    if kind == "object":
        yield from _check_object(schema, value, path)
    elif kind == "array":
        yield from _check_array(schema, value, path)
    elif kind == "string":
        yield from _check_string(schema, value, path)
    elif kind in ("integer", "number"):
        yield from _check_number(schema, value, path)


def _is(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False  # True is an int to Python, never to the API server
    return isinstance(value, _TYPES[kind])


def _check_object(schema: Schema, value: Mapping[str, Any], path: str) -> Iterator[str]:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
    for name in schema.get("required", []):
        if name not in value:
            yield f"{path}.{name}: required, and missing"
    for name, item in value.items():
        where = f"{path}.{name}"
        if name in properties:
            yield from _check(properties[name], item, where)
        elif isinstance(extra, Mapping):
            yield from _check(extra, item, where)
        elif not keeps_unknown:
            yield f"{where}: not in the schema, so the API server prunes it"


def _check_array(schema: Schema, value: list[Any], path: str) -> Iterator[str]:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        yield f"{path}: {len(value)} items, more than {schema['maxItems']}"
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield f"{path}: {len(value)} items, fewer than {schema['minItems']}"
    items: Schema = schema.get("items", {})
    for index, item in enumerate(value):
        yield from _check(items, item, f"{path}[{index}]")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = [tuple(item.get(k) for k in keys) for item in value if isinstance(item, Mapping)]
        if len(set(seen)) != len(seen):
            yield f"{path}: two items share the map key {keys}"
    elif list_type == "set" and len({repr(v) for v in value}) != len(value):
        yield f"{path}: a set with the same item twice"


def _check_string(schema: Schema, value: str, path: str) -> Iterator[str]:
    if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
        yield f"{path}: {value!r} is not an RFC 3339 date-time"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        yield f"{path}: {value!r} does not match {schema['pattern']}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield f"{path}: longer than {schema['maxLength']}"
    if "minLength" in schema and len(value) < schema["minLength"]:
        yield f"{path}: shorter than {schema['minLength']}"


def _check_number(schema: Schema, value: float, path: str) -> Iterator[str]:
    if "minimum" in schema and value < schema["minimum"]:
        yield f"{path}: {value} is less than {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        yield f"{path}: {value} is more than {schema['maximum']}"
