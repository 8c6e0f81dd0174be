"""From a source's or destination's spec to its adapter, by the kind it sets.

The API names each kind's adapter factory as ``"module:attribute"`` (it imports nothing of
the worker); the path is resolved here, once per kind. Every factory is called the same way,
``factory(name, endpoint_spec, context)``, and reads its own Secrets from the context's
directory, so this module knows no kind.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from functools import cache
from typing import Any

from contactsync_api.kinds import Kind
from contactsync_api.spec import DestinationSpec, SourceSpec
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.destinations import DestinationAdapter
from contactsync_worker.sources import SourceAdapter


class AdapterNotFound(LookupError):
    """A kind's adapter factory cannot be imported: the worker image does not match the API."""


@cache
def factory(kind: Kind) -> Callable[..., Any]:
    """The adapter factory a kind names, imported on first use."""
    try:
        found: Callable[..., Any] = pkgutil.resolve_name(kind.adapter)
    except (ImportError, AttributeError, ValueError) as exc:
        raise AdapterNotFound(
            f"{kind.role} kind {kind.key!r}: cannot import its adapter {kind.adapter!r} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not callable(found):
        raise AdapterNotFound(f"{kind.role} kind {kind.key!r}: {kind.adapter!r} is not callable")
    return found


def source_adapter(spec: SourceSpec, context: AdapterContext) -> SourceAdapter:
    adapter: SourceAdapter = factory(spec.kind)(spec.name, spec.endpoint, context)
    return adapter


def destination_adapter(spec: DestinationSpec, context: AdapterContext) -> DestinationAdapter:
    adapter: DestinationAdapter = factory(spec.kind)(spec.name, spec.endpoint, context)
    return adapter
