"""The ``contactsync`` command.

contactsync check FILE...   check ContactSync manifests without a cluster
contactsync crd [egress]    print the ContactSync (or ContactSyncEgressPolicy) CRD
contactsync keys ...        generate, rotate and list a region's keys Secret
contactsync render FILE     print what the operator would create for ContactSync manifests
contactsync codec-server    decode a region's payloads for the Temporal Web UI and CLI
contactsync report FILE     a record of processing activities (GDPR Art. 30) per ContactSync
contactsync run FILE        run ContactSyncs on this machine (embedded Temporal), state kept

One entry point for the image and for people. This package is the composition root: the
operator and the worker do not import each other (beyond the payload codec and keyring
the operator shares), and each subcommand here calls into one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from contactsync_api.crd import crd_yaml
from contactsync_api.egress_crd import egress_crd_yaml
from contactsync_api.manifest import ManifestError, load_contact_syncs
from contactsync_api.workflows import RegionRunRequest, SubjectIds
from contactsync_cli import codec_server, keys, render, report
from contactsync_cli import run as run_command
from contactsync_cli.exit_codes import EXIT_INVALID as EXIT_INVALID
from contactsync_cli.exit_codes import EXIT_UNAVAILABLE as EXIT_UNAVAILABLE

if TYPE_CHECKING:
    from contactsync_worker.commands import ErasureTarget


def _say(line: str) -> None:
    print(line, flush=True)


def _check(paths: Sequence[Path]) -> int:
    status = 0
    for path in paths:
        try:
            for resource in load_contact_syncs(path):
                _say(f"{path}: ContactSync {resource.namespace}/{resource.name} is valid")
        except ManifestError as exc:
            status = EXIT_INVALID
            for problem in exc.problems:
                print(f"{exc.source}: {problem}", file=sys.stderr)
        except OSError as exc:
            status = EXIT_INVALID
            print(f"{path}: {exc.strerror}", file=sys.stderr)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contactsync", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check ContactSync manifests without a cluster")
    check.add_argument("files", nargs="+", type=Path)
    crd = commands.add_parser("crd", help="print a CustomResourceDefinition's YAML")
    crd.add_argument(
        "kind",
        nargs="?",
        choices=("contactsync", "egress"),
        default="contactsync",
        help="ContactSync (default) or ContactSyncEgressPolicy",
    )
    run_command.register(commands)
    operator = commands.add_parser("operator", help="run the Kubernetes operator")
    operator.add_argument(
        "--liveness", metavar="URL", help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz"
    )
    operator.add_argument(
        "--standalone",
        action="store_true",
        help="no peering: for a single replica without the peering CRDs",
    )
    operator.add_argument("--verbose", action="store_true", help="debug logging")
    commands.add_parser("worker", help="run a region's Temporal worker (configured by environment)")
    audit = commands.add_parser("audit", help="the region's tamper-evident audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="verify the hash chain (in a worker pod, or of a local SQLite state file)"
    )
    verify.add_argument(
        "--sqlite", type=Path, help="a local state file instead of the worker's store"
    )
    verify.add_argument("--scope", help="namespace/name/region, with --sqlite")
    verify.add_argument(
        "--checkpoint",
        metavar="TOKEN",
        help="a signed checkpoint (status regions[].lastSync.auditCheckpoint, or the worker "
        "log): the chain must still hold the record it signed",
    )
    verify.add_argument(
        "--keys-dir", type=Path, help="the region's keys, to check --checkpoint with --sqlite"
    )
    request = _region_request_arguments()
    commands.add_parser(
        "erase",
        parents=[request],
        help="erase one data subject (by email, phone or uid) and keep them out of later syncs",
    )
    suppression = commands.add_parser(
        "suppression", help="the people erasures keep out of the region's syncs"
    )
    suppression_commands = suppression.add_subparsers(dest="suppression_command", required=True)
    suppression_commands.add_parser(
        "lift",
        parents=[request],
        help="let later syncs write an erased data subject again (signed, audited)",
    )
    uninstall = commands.add_parser(
        "uninstall",
        help="before the operator goes: release (or delete) the ContactSyncs it leaves behind",
    )
    uninstall.add_argument(
        "--contactsyncs",
        choices=("release", "delete"),
        required=True,
        help="release: stop the operator and take its finalizer off each (they stay); "
        "delete: delete each and wait until the operator has cleaned it up",
    )
    uninstall.add_argument(
        "--operator",
        metavar="NAMESPACE/NAME",
        help="the operator's Deployment, scaled to zero before releasing",
    )
    uninstall.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS")
    keys.register(commands)
    render.register(commands)
    codec_server.register(commands)
    report.register(commands)
    return parser


def _region_request_arguments() -> argparse.ArgumentParser:
    """What a signed request about one data subject needs: whom, where, and how to ask."""
    request = argparse.ArgumentParser(add_help=False)
    subject = request.add_argument_group("the data subject (any of them, each matched)")
    subject.add_argument("--email")
    subject.add_argument("--phone")
    subject.add_argument("--uid")
    request.add_argument("--contactsync", required=True, metavar="NAMESPACE/NAME")
    request.add_argument("--region", required=True)
    request.add_argument("--temporal-address", default="localhost:7233")
    request.add_argument("--temporal-namespace", default="default")
    request.add_argument(
        "--keys-dir",
        type=Path,
        required=True,
        help="the region's keys, requests.key included (it signs the request)",
    )
    request.add_argument(
        "--tls-dir", type=Path, help="Temporal TLS files: ca.crt, and tls.crt/tls.key for mTLS"
    )
    request.add_argument("--api-key-file", type=Path, help="a file holding a Temporal API key")
    request.add_argument(
        "--plaintext",
        action="store_true",
        help="connect without TLS or an API key (development only; refused otherwise)",
    )
    return request


def _operator(args: argparse.Namespace) -> int:
    from contactsync_operator.commands import run_operator
    from contactsync_operator.settings import SettingsError

    try:
        run_operator(args.liveness, args.standalone, args.verbose)
    except SettingsError as exc:
        print(f"contactsync operator: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    from contactsync_operator.commands import run_uninstall
    from contactsync_operator.uninstall import UninstallError

    try:
        print(run_uninstall(args.contactsyncs, args.operator, args.timeout))
    except UninstallError as exc:
        print(f"contactsync uninstall: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from contactsync_worker import commands

    if args.sqlite is not None:
        if not args.scope:
            print("contactsync audit verify: --sqlite needs --scope", file=sys.stderr)
            return EXIT_INVALID
        checkpoint = None
        if args.checkpoint:
            if args.keys_dir is None:
                print(
                    "contactsync audit verify: --checkpoint with --sqlite needs --keys-dir",
                    file=sys.stderr,
                )
                return EXIT_INVALID
            region = args.scope.rsplit("/", 1)[-1]
            key = commands.region_checkpoint_key(args.keys_dir, region)
            checkpoint = commands.SignedCheckpoint(args.checkpoint, key)
        ok, words = asyncio.run(commands.verify_sqlite(args.sqlite, args.scope, checkpoint))
    else:
        ok, words = asyncio.run(commands.verify_from_env(args.checkpoint))
    print(words, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _subject_target(args: argparse.Namespace) -> tuple[ErasureTarget, SubjectIds]:
    from contactsync_worker.commands import ErasureTarget

    namespace, _, name = args.contactsync.partition("/")
    target = ErasureTarget(
        args.temporal_address,
        args.temporal_namespace,
        args.keys_dir,
        RegionRunRequest(namespace, name, args.region),
        tls_dir=args.tls_dir,
        api_key_file=args.api_key_file,
        plaintext=args.plaintext,
    )
    return target, SubjectIds(email=args.email, phone=args.phone, uid=args.uid)


def _erase(args: argparse.Namespace) -> int:
    from contactsync_worker import commands

    try:
        result = asyncio.run(commands.erase(*_subject_target(args)))
    except ValueError as exc:
        print(f"contactsync erase: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"erased {result.contacts_erased} contact(s); "
        f"{result.destination_deletes} deletion(s) in destinations; "
        f"{result.identifiers_suppressed} identifier(s) newly kept out of later syncs"
    )
    return 0


def _lift_suppression(args: argparse.Namespace) -> int:
    from contactsync_worker import commands

    try:
        result = asyncio.run(commands.lift_suppression(*_subject_target(args)))
    except ValueError as exc:
        print(f"contactsync suppression lift: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"lifted the suppression of {result.identifiers_lifted} identifier(s) left by "
        f"{result.erasures_lifted} erasure(s); the next sync reads every source whole"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args.files)
    if args.command == "crd":
        sys.stdout.write(egress_crd_yaml() if args.kind == "egress" else crd_yaml())
        return 0
    if args.command == "operator":
        return _operator(args)
    if args.command == "audit":
        return _audit_verify(args)
    if args.command == "erase":
        return _erase(args)
    if args.command == "suppression":
        return _lift_suppression(args)
    if args.command == "uninstall":
        return _uninstall(args)
    if args.command == "keys":
        return keys.run(args)
    if args.command == "render":
        return render.run(args)
    if args.command == codec_server.COMMAND:
        return codec_server.run(args)
    if args.command == "report":
        return report.run(args)
    if args.command == "worker":
        from contactsync_worker.main import main as worker_main

        return worker_main()
    if args.command in ("run", "local"):
        return run_command.run(args)
    raise AssertionError(f"no dispatch for {args.command}")


if __name__ == "__main__":
    sys.exit(main())
