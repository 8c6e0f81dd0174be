"""Reading ContactSync manifests from YAML, with errors that name the offending field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contactsync_api.rules import RULES_WAIVED, RuleViolation
from contactsync_api.spec import GROUP, KIND, VERSION, ContactSyncSpec

API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class ContactSync:
    """One ContactSync as the operator and the local runner see it."""

    namespace: str
    name: str
    spec: ContactSyncSpec
    generation: int = 0
    uid: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)


class ManifestError(ValueError):
    """A manifest was refused; ``problems`` lists each as 'field.path: what to fix'."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


def field_path(location: Iterable[int | str], prefix: str = "spec") -> str:
    """pydantic's ('sources', 0, 'carddav') → 'spec.sources[0].carddav'."""
    path = prefix
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validation_problems(error: ValidationError, prefix: str = "spec") -> list[str]:
    problems = []
    for detail in error.errors():
        cause = (detail.get("ctx") or {}).get("error")
        path = field_path(detail["loc"], prefix)
        if isinstance(cause, RuleViolation):
            problems.append(f"{path}{cause.field_path or ''}: {cause}")
        elif isinstance(cause, ValueError):
            problems.append(f"{path}: {cause}")
        else:
            problems.append(f"{path}: {detail['msg']}")
    return problems


def parse_contact_sync(
    document: Any, source: str = "<manifest>", *, rules: bool = True
) -> ContactSync:
    """Check one decoded document and return it typed, or raise ManifestError.

    ``rules=False`` checks the types alone: for a resource stored before a rule existed, whose
    schedules must still be found and deleted."""
    if not isinstance(document, dict):
        raise ManifestError(source, ["a manifest must be a YAML mapping"])
    problems = []
    if document.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion: expected {API_VERSION}, got {document.get('apiVersion')!r}")
    if document.get("kind") != KIND:
        problems.append(f"kind: expected {KIND}, got {document.get('kind')!r}")
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, dict) or not metadata.get("name"):
        problems.append("metadata.name: required")
        metadata = {}
    if problems:
        raise ManifestError(source, problems)
    try:
        context = None if rules else RULES_WAIVED
        spec = ContactSyncSpec.model_validate(document.get("spec"), context=context)
    except ValidationError as exc:
        raise ManifestError(source, validation_problems(exc)) from exc
    return ContactSync(
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata["name"]),
        spec=spec,
        generation=int(metadata.get("generation") or 0),
        uid=str(metadata.get("uid") or ""),
        annotations={
            str(k): str(v) for k, v in (metadata.get("annotations") or {}).items() if v is not None
        },
    )


def load_contact_syncs(path: Path) -> list[ContactSync]:
    """Every ContactSync in a YAML file (documents of other kinds are refused, not skipped)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(str(path), [f"not valid YAML: {exc}"]) from exc
    if not documents:
        raise ManifestError(str(path), ["no ContactSync in the file"])
    return [parse_contact_sync(document, str(path)) for document in documents]
