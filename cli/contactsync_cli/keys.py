"""``contactsync keys generate|rotate|list``: a region's keys Secret, made and rotated.

generate   a complete keys set (payload key, pseudonym key, request key) as a Secret
           manifest or a directory of files
rotate     a newer payload key, and with --pseudonym a new pseudonym key; or, with --retire,
           one old payload key fewer
list       the entries and what each is for, never their content

Key material appears only in what generate and rotate write.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from contactsync_cli import keyset
from contactsync_cli.keyfiles import (
    SecretManifest,
    manifest_text,
    read_directory,
    read_manifest,
    update_directory,
    write_manifest,
    write_new_directory,
)
from contactsync_cli.keyset import Change, KeySet, KeySetError

# The codes of contactsync_cli.main, which imports this module.
EXIT_INVALID = 2

# Secret names are DNS subdomains; region and ContactSync names DNS labels (contactsync_api).
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# A ContactSync mounts only Secrets labelled for it (contactsync_operator.secret_access).
_USE_LABEL = "contactsync.dev/use"
_STDOUT = "-"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="make, rotate and list a region's keys Secret")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    generate = actions.add_parser(
        "generate", help="a new keys set: payload key, pseudonym key and request key"
    )
    generate.add_argument(
        "--region", required=True, help="the region the keys are for; names the default Secret"
    )
    generate.add_argument(
        "--secret-name", help="the Secret's name (default: contactsync-keys-REGION)"
    )
    generate.add_argument("--namespace", help="the Secret's namespace (default: none written)")
    generate.add_argument(
        "--contactsync",
        metavar="NAME",
        help="label the Secret for the ContactSync NAME (contactsync.dev/use), which mounts "
        "only Secrets labelled for it",
    )
    form = generate.add_mutually_exclusive_group()
    form.add_argument(
        "--out", type=Path, metavar="DIR", help="one file per key in DIR (new or empty)"
    )
    form.add_argument(
        "--manifest",
        nargs="?",
        const=_STDOUT,
        metavar="FILE",
        help="a Secret manifest on stdout (the default), or in a new FILE",
    )

    rotate = actions.add_parser(
        "rotate", help="add a newer payload key (and pseudonym key), or retire an old one"
    )
    _source_arguments(rotate)
    change = rotate.add_mutually_exclusive_group()
    change.add_argument(
        "--pseudonym",
        action="store_true",
        help="also make a new pseudonym key; the current one becomes pseudonym-previous",
    )
    change.add_argument(
        "--retire",
        metavar="KEYID",
        help="instead of adding a key, drop the old payload key KEYID (never the newest), or "
        "pseudonym-previous once the workers have re-keyed their stores",
    )

    listing = actions.add_parser("list", help="the key ids and what each is for")
    _source_arguments(listing)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dir", type=Path, help="a keys directory, one file per key")
    source.add_argument("--manifest", type=Path, metavar="FILE", help="a keys Secret manifest")


def run(args: argparse.Namespace) -> int:
    command = f"contactsync keys {args.keys_command}"
    try:
        if args.keys_command == "generate":
            _generate(args)
        elif args.keys_command == "rotate":
            _rotate(args)
        else:
            _list(args)
    except KeySetError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return 0


def _today() -> date:
    return datetime.now(UTC).date()


def _generate(args: argparse.Namespace) -> None:
    name = args.secret_name or f"contactsync-keys-{args.region}"
    _check_name("--region", args.region, _LABEL)
    _check_name("--secret-name", name, _SUBDOMAIN)
    if args.namespace is not None:
        _check_name("--namespace", args.namespace, _LABEL)
    if args.contactsync is not None:
        _check_name("--contactsync", args.contactsync, _LABEL)
    keys = keyset.generate(_today())
    if args.out is not None:
        write_new_directory(args.out, keys)
        _report(f"wrote {len(keys.entries)} keys to {args.out}", keys)
        return
    manifest = SecretManifest(keys, _metadata(name, args.namespace, args.contactsync))
    if args.manifest in (None, _STDOUT):
        sys.stdout.write(manifest_text(manifest))
        return
    write_manifest(Path(args.manifest), manifest, replace=False)
    _report(f"wrote Secret {name} to {args.manifest}", keys)


def _metadata(name: str, namespace: str | None, contactsync: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if contactsync is not None:
        metadata["labels"] = {_USE_LABEL: contactsync}
    return metadata


def _rotate(args: argparse.Namespace) -> None:
    if args.dir is not None:
        before = read_directory(args.dir)
        change = _change(before, args)
        update_directory(args.dir, before, change.keys)
    else:
        manifest = read_manifest(args.manifest)
        change = _change(manifest.keys, args)
        write_manifest(args.manifest, SecretManifest(change.keys, manifest.metadata), replace=True)
    for note in change.notes:
        print(note)
    _print_entries(change.keys)


def _change(keys: KeySet, args: argparse.Namespace) -> Change:
    if args.retire is not None:
        return keyset.retire(keys, args.retire)
    added = keyset.add_payload_key(keys, _today())
    if not args.pseudonym:
        return added
    rotated = keyset.rotate_pseudonym(added.keys)
    return Change(rotated.keys, added.notes + rotated.notes)


def _list(args: argparse.Namespace) -> None:
    keys = read_directory(args.dir) if args.dir is not None else read_manifest(args.manifest).keys
    _print_entries(keys)


def _print_entries(keys: KeySet) -> None:
    entries = keyset.describe(keys)
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.role}")


def _report(line: str, keys: KeySet) -> None:
    print(line)
    _print_entries(keys)


def _check_name(option: str, value: str, pattern: re.Pattern[str]) -> None:
    limit = 253 if pattern is _SUBDOMAIN else 63
    if len(value) > limit or not pattern.fullmatch(value):
        raise KeySetError(
            f"{option} {value!r} is not a valid name: lower-case letters, digits and '-'"
            + (", '.' between parts" if pattern is _SUBDOMAIN else "")
            + f", starting and ending with a letter or digit, at most {limit} characters"
        )
