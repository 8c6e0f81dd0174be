"""A keys set on disk, in the two forms the worker and the operator take.

A directory holds one file per entry, as a mounted keys Secret does (what
``Keyring.from_directory`` and the erase command's ``--keys-dir`` read). A manifest is a
``v1`` Secret whose ``data`` holds each entry base64-encoded once more, as ``kubectl create
secret generic --from-literal`` makes it. Both hold key material: directories are 0700,
files 0600, and files are replaced whole, never rewritten in place.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contactsync_cli.keyset import KeySet, KeySetError, parse

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# What the API server sets, and kubectl's copy of the last applied object (which holds the
# keys as they were, retired ones included): a manifest written back carries neither.
_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# A kubelet-mounted Secret keeps its own files under names starting with "..", and every
# reader of a keys directory skips them: a temporary file named so is never taken for a key.
_SKIPPED_PREFIX = ".."


@dataclass(frozen=True)
class SecretManifest:
    """A keys Secret's metadata (name, namespace, labels, annotations) and its keys."""

    keys: KeySet
    metadata: Mapping[str, Any] = field(default_factory=dict)


def read_directory(path: Path) -> KeySet:
    if not path.is_dir():
        raise KeySetError(f"{path} is not a directory")
    try:
        entries = {
            entry.name: entry.read_bytes()
            for entry in sorted(path.iterdir())
            if not entry.name.startswith(_SKIPPED_PREFIX) and entry.is_file()
        }
    except OSError as exc:
        raise KeySetError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse(entries, str(path))


def write_new_directory(path: Path, keys: KeySet) -> None:
    """A new keys directory; an existing one is used only while it is empty."""
    try:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise KeySetError(
                f"{path} already exists and is not an empty directory: new keys are written "
                "only where they overwrite nothing"
            )
        path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        path.chmod(DIRECTORY_MODE)  # mkdir's mode is masked by the umask; an empty dir kept its own
        for name, content in keys.entries.items():
            _write_exclusive(path / name, content)
    except OSError as exc:
        raise KeySetError(f"{path}: cannot be written ({exc.strerror})") from exc


def update_directory(path: Path, before: KeySet, after: KeySet) -> None:
    """Write what changed from ``before`` to ``after``: new entries first, removals last, so
    an interruption leaves every key that was there."""
    try:
        for name, content in after.entries.items():
            if before.entries.get(name) != content:
                _replace(path / name, content)
        for name in before.entries.keys() - after.entries.keys():
            (path / name).unlink()
    except OSError as exc:
        raise KeySetError(f"{path}: cannot be updated ({exc.strerror})") from exc


def read_manifest(path: Path) -> SecretManifest:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeySetError(f"{path}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise KeySetError(f"{path} is not a text file") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KeySetError(f"{path} is not YAML: {_yaml_problem(exc)}") from exc
    if (
        not isinstance(document, dict)
        or document.get("apiVersion") != "v1"
        or document.get("kind") != "Secret"
    ):
        raise KeySetError(f"{path} is not a v1 Secret manifest (apiVersion: v1, kind: Secret)")
    entries = dict(_data_entries(path, document.get("data")))
    entries.update(_string_data_entries(path, document.get("stringData")))
    metadata = document.get("metadata")
    return SecretManifest(
        parse(entries, str(path)), _kept_metadata(metadata if isinstance(metadata, dict) else {})
    )


def manifest_text(manifest: SecretManifest) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": dict(manifest.metadata),
        "type": "Opaque",
        "data": {
            name: base64.b64encode(content).decode()
            for name, content in sorted(manifest.keys.entries.items())
        },
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_manifest(path: Path, manifest: SecretManifest, *, replace: bool) -> None:
    """Write the manifest (0600); over an existing file only when ``replace``."""
    content = manifest_text(manifest).encode()
    try:
        if replace:
            _replace(path, content)
        else:
            _write_exclusive(path, content)
    except FileExistsError as exc:
        raise KeySetError(
            f"{path} already exists: new keys are written only where they overwrite nothing"
        ) from exc
    except OSError as exc:
        raise KeySetError(f"{path}: cannot be written ({exc.strerror})") from exc


def _data_entries(path: Path, data: object) -> Iterator[tuple[str, bytes]]:
    for name, value in _string_map(path, "data", data).items():
        try:
            yield name, base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise KeySetError(f"{path}: data entry {name!r} is not base64") from exc


def _string_data_entries(path: Path, data: object) -> Iterator[tuple[str, bytes]]:
    for name, value in _string_map(path, "stringData", data).items():
        yield name, value.encode()


def _string_map(path: Path, section: str, data: object) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise KeySetError(f"{path}: {section} must map entry names to strings")
    return data


def _kept_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in metadata.items() if k not in _SERVER_FIELDS}
    annotations = kept.get("annotations")
    if isinstance(annotations, dict):
        annotations = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
        if annotations:
            kept["annotations"] = annotations
        else:
            del kept["annotations"]
    return kept


def _yaml_problem(exc: yaml.YAMLError) -> str:
    # The problem and its line, not the parser's excerpt: that would quote the file's text.
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)


def _write_exclusive(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


def _replace(path: Path, content: bytes) -> None:
    """Write ``content`` to a new file beside ``path`` and rename it over ``path``."""
    temporary = path.with_name(f"{_SKIPPED_PREFIX}{path.name}.new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # left by an interrupted run
    try:
        _write_exclusive(temporary, content)
        temporary.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
