"""``contactsync render FILE``: the Kubernetes objects and Temporal schedules the operator would
create for each ContactSync in FILE, without a cluster (see contactsync_cli.rendering)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from contactsync_api.egress_policy import EgressPolicy, parse_egress_policy
from contactsync_api.manifest import ContactSync, ManifestError, parse_contact_sync
from contactsync_cli.render_options import Egress, Only
from contactsync_operator.settings import OperatorSettings, TemporalConnection

EXIT_INVALID = 2  # as contactsync_cli.main
STDIN = "-"


class RenderInputError(ValueError):
    """FILE or an option cannot be used; the message says what and where."""


def register(commands: Any) -> None:
    """Add the ``render`` subcommand to ``commands`` (argparse subparsers)."""
    parser = commands.add_parser(
        "render",
        help="print the Kubernetes objects and Temporal schedules the operator would create",
    )
    parser.add_argument("file", metavar="FILE", help="ContactSync manifests; - reads stdin")
    parser.add_argument(
        "--only",
        choices=[o.value for o in Only],
        help="kubernetes: only the objects (a stream kubectl can apply); schedules: only the "
        "schedule descriptions",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        metavar="NS",
        help="the namespace of ContactSyncs whose metadata names none (default: default)",
    )
    parser.add_argument(
        "--image",
        default=OperatorSettings.worker_image,
        help="the worker image the operator deploys (CONTACTSYNC_WORKER_IMAGE; default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--temporal-address",
        default=TemporalConnection.address,
        metavar="HOST:PORT",
        help="the operator's Temporal frontend (TEMPORAL_ADDRESS; default: %(default)s)",
    )
    parser.add_argument(
        "--temporal-namespace",
        default=TemporalConnection.namespace,
        metavar="NS",
        help="the default Temporal namespace (TEMPORAL_NAMESPACE; default: %(default)s)",
    )
    parser.add_argument(
        "--egress-policy",
        action="append",
        type=Path,
        metavar="POLICY_FILE",
        help="plan with the ContactSyncEgressPolicies in this file, as if installed "
        "(repeatable); without it, none are observed",
    )
    parser.add_argument(
        "--namespace-label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label of the ContactSyncs' namespaces, for the policies' namespaceSelector "
        "(repeatable; kubernetes.io/metadata.name is always set)",
    )


def _documents(file: str) -> tuple[str, list[Any]]:
    """The YAML documents of ``file`` and how to name it in messages."""
    source = "stdin" if file == STDIN else file
    try:
        text = sys.stdin.read() if file == STDIN else Path(file).read_text()
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except OSError as exc:
        raise RenderInputError(f"{source}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise RenderInputError(f"{source}: not valid YAML{where}") from exc
    return source, documents


def _problems(exc: ManifestError) -> str:
    return f"{exc.source}: {'; '.join(exc.problems)}"


def load_contact_syncs(file: str, namespace: str) -> list[ContactSync]:
    """Every ContactSync in ``file``, in ``namespace`` when its metadata names none."""
    source, documents = _documents(file)
    if not documents:
        raise RenderInputError(f"{source}: no ContactSync in it")
    resources = []
    for document in documents:
        metadata = document.get("metadata") if isinstance(document, dict) else None
        if isinstance(metadata, dict) and not metadata.get("namespace"):
            document = {**document, "metadata": {**metadata, "namespace": namespace}}
        try:
            resources.append(parse_contact_sync(document, source))
        except ManifestError as exc:
            raise RenderInputError(_problems(exc)) from exc
    return resources


def load_egress_policies(files: list[Path]) -> tuple[EgressPolicy, ...]:
    policies = []
    for file in files:
        source, documents = _documents(str(file))
        try:
            policies += [parse_egress_policy(d) for d in documents]
        except ManifestError as exc:
            raise RenderInputError(f"{source}: {_problems(exc)}") from exc
    return tuple(sorted(policies, key=lambda p: p.name))


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise RenderInputError(f"--namespace-label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def settings_from(args: argparse.Namespace) -> OperatorSettings:
    """The operator's defaults, but for what the options set."""
    host, _, port = args.temporal_address.rpartition(":")
    if not host or not port.isdigit():
        raise RenderInputError(f"--temporal-address {args.temporal_address!r}: expected host:port")
    temporal = TemporalConnection(address=args.temporal_address, namespace=args.temporal_namespace)
    return OperatorSettings(temporal=temporal, worker_image=args.image)


def run(args: argparse.Namespace) -> int:
    try:
        resources = load_contact_syncs(args.file, args.namespace)
        policies = load_egress_policies(args.egress_policy) if args.egress_policy else None
        labels = _labels(args.namespace_label)
        settings = settings_from(args)
    except RenderInputError as exc:
        print(f"contactsync render: {exc}", file=sys.stderr)
        return EXIT_INVALID
    egress = Egress(policies, labels)
    only = Only(args.only) if args.only else None
    source = "stdin" if args.file == STDIN else args.file
    from contactsync_cli.rendering import render  # the planner and Temporal: only here

    sys.stdout.write(render(source, resources, settings, only, egress))
    return 0
