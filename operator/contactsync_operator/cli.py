"""The ``contactsync`` command.

contactsync check FILE...   check ContactSync manifests without a cluster
contactsync crd             print the CustomResourceDefinition
contactsync local FILE      run a ContactSync on this machine (embedded Temporal)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from contactsync_operator.api.crd import crd_yaml
from contactsync_operator.api.manifest import ManifestError, load_contact_syncs

EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3


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


def _local(path: Path) -> int:
    from contactsync_operator.local import (
        LocalModeError,
        describe_resource,
        run_local,
        temporal_binary,
    )

    try:
        resources = load_contact_syncs(path)
    except ManifestError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if len(resources) != 1:
        print(f"{path}: local mode runs one ContactSync, found {len(resources)}", file=sys.stderr)
        return EXIT_INVALID
    resource = resources[0]
    describe_resource(resource, _say)
    try:
        binary = temporal_binary()
        with tempfile.TemporaryDirectory(prefix="contactsync-local-") as workdir:
            asyncio.run(run_local(resource, _say, Path(workdir), binary))
    except LocalModeError as exc:
        print(f"contactsync local: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def _operator(liveness: str | None, standalone: bool, verbose: bool) -> int:
    import kopf

    from contactsync_operator import handlers

    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON)
    namespaces = handlers.SETTINGS.namespaces
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
            standalone=standalone,
            peering_name=None if standalone else "contactsync",
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contactsync", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check ContactSync manifests without a cluster")
    check.add_argument("files", nargs="+", type=Path)
    commands.add_parser("crd", help="print the CustomResourceDefinition YAML")
    local = commands.add_parser("local", help="run a ContactSync locally on embedded Temporal")
    local.add_argument("file", type=Path)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args.files)
    if args.command == "crd":
        sys.stdout.write(crd_yaml())
        return 0
    if args.command == "operator":
        return _operator(args.liveness, args.standalone, args.verbose)
    if args.command == "worker":
        from contactsync_worker.main import main as worker_main

        return worker_main()
    return _local(args.file)


if __name__ == "__main__":
    sys.exit(main())
